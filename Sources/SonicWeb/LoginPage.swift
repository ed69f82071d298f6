/// The page shown instead of the app when a token is required and none was presented.
enum LoginPage {
    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sonic Share — sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px system-ui,sans-serif;background:#f4f5f7;display:flex;align-items:center;justify-content:center;height:100vh;margin:0}
form{background:#fff;padding:24px 28px;border-radius:10px;box-shadow:0 2px 10px #0002;min-width:300px}
h1{font-size:18px;margin:0 0 12px}input{width:100%;box-sizing:border-box;padding:8px;margin:6px 0 12px;font:inherit}
button{padding:8px 16px;font:inherit;background:#2563eb;color:#fff;border:0;border-radius:6px;cursor:pointer}
#error{color:#b91c1c;min-height:1.2em}
</style></head><body>
<form id="login"><h1>Sonic Share</h1><label for="token">Access token</label>
<input id="token" type="password" autocomplete="current-password" autofocus>
<button type="submit">Sign in</button><p id="error"></p></form>
<script>
document.getElementById('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await fetch('/api/v1/login', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-Sonic-Request': '1'},
    body: JSON.stringify({token: document.getElementById('token').value})});
  if (r.ok) { location.reload(); return; }
  let msg = 'sign-in failed';
  try { msg = (await r.json()).error.message; } catch (_) {}
  document.getElementById('error').textContent = msg;
});
</script></body></html>
"""#
}
