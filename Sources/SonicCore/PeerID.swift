/// A program's identity on the network: the SHA-256 of its public key (the DER
/// SubjectPublicKeyInfo of its TLS certificate).
///
/// Written for people in the Syncthing style: the 32 bytes in RFC 4648 base32 (52
/// characters), cut into four groups of 13, each followed by a Luhn mod 32 check character,
/// shown in eight groups of seven joined by dashes:
///
/// ```
/// HP27FF7-3IY2UTO-TCTU2H2-L3JQNBQ-HFR2HXV-U3NGD72-IM3YYW2-4G5VNQ3
/// ```
///
/// The check characters catch any single mistyped character and most swapped neighbours
/// (docs/PROTOCOL.md, "Peer ids").
public struct PeerID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let hash: SHA256Hash

    public init(_ hash: SHA256Hash) {
        self.hash = hash
    }

    /// The id of the key whose DER SubjectPublicKeyInfo is `publicKeyDER`.
    public init(publicKeyDER: [UInt8]) {
        self.hash = SHA256Hash.of(publicKeyDER)
    }

    public static func < (a: PeerID, b: PeerID) -> Bool { a.hash < b.hash }

    /// The grouped, checksummed text form.
    public var description: String {
        let plain = Base32.encode(hash.bytes)
        var checked = ""
        for group in stride(from: 0, to: plain.count, by: Self.groupLength) {
            let chars = Array(plain.dropFirst(group).prefix(Self.groupLength))
            checked += String(chars) + String(LuhnBase32.checkCharacter(for: chars))
        }
        return stride(from: 0, to: checked.count, by: 7)
            .map { String(Array(checked)[$0..<min($0 + 7, checked.count)]) }
            .joined(separator: "-")
    }

    /// The first group of the text form: enough to tell peers apart in a log line, never
    /// enough to pin one.
    public var short: String { String(description.prefix(7)) }

    /// Why a text is not a peer id.
    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case length(Int)
        case character(Character)
        /// The check character of this group (1...4) does not match: a typo.
        case checksum(group: Int)

        public var description: String {
            switch self {
            case .length(let n): "a peer id has 56 letters and digits (dashes optional), got \(n)"
            case .character(let c): "\(String(c).debugDescription) cannot appear in a peer id (A-Z and 2-7 only)"
            case .checksum(let g): "the check character of part \(g) of 4 does not match: a typo in that part"
            }
        }
    }

    /// Parses the text form. Case, dashes and spaces do not matter.
    public init(parsing text: String) throws {
        let chars = Array(text.uppercased().filter { $0 != "-" && $0 != " " })
        guard chars.count == Self.checkedLength else { throw ParseError.length(chars.count) }
        if let bad = chars.first(where: { Base32.value(of: $0) == nil }) { throw ParseError.character(bad) }
        var plain: [Character] = []
        for (index, group) in stride(from: 0, to: chars.count, by: Self.groupLength + 1).enumerated() {
            let body = Array(chars[group..<group + Self.groupLength])
            guard LuhnBase32.checkCharacter(for: body) == chars[group + Self.groupLength] else {
                throw ParseError.checksum(group: index + 1)
            }
            plain += body
        }
        guard let bytes = Base32.decode(plain, byteCount: SHA256Hash.byteCount), let hash = SHA256Hash(bytes: bytes) else {
            // Only the unused low bits of the last character can make a checked text fail here.
            throw ParseError.checksum(group: 4)
        }
        self.hash = hash
    }

    static let groupLength = 13
    static let checkedLength = 56
}

/// RFC 4648 base32 without padding, upper case.
enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

    static func value(of c: Character) -> Int? {
        guard let ascii = c.asciiValue else { return nil }
        switch ascii {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return Int(ascii - UInt8(ascii: "A"))
        case UInt8(ascii: "2")...UInt8(ascii: "7"): return Int(ascii - UInt8(ascii: "2")) + 26
        default: return nil
        }
    }

    static func encode(_ bytes: [UInt8]) -> [Character] {
        var out: [Character] = []
        var buffer = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return out
    }

    /// Decodes exactly `byteCount` bytes; nil for other lengths or non-zero padding bits.
    static func decode(_ chars: [Character], byteCount: Int) -> [UInt8]? {
        guard chars.count == (byteCount * 8 + 4) / 5 else { return nil }
        var out: [UInt8] = []
        var buffer = 0
        var bits = 0
        for c in chars {
            guard let v = value(of: c) else { return nil }
            buffer = ((buffer << 5) | v) & 0xFFFF
            bits += 5
            if bits >= 8 {
                out.append(UInt8((buffer >> (bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        guard out.count == byteCount, buffer & ((1 << bits) - 1) == 0 else { return nil }
        return out
    }
}

/// The Luhn mod N algorithm over the base32 alphabet (N = 32).
enum LuhnBase32 {
    static func checkCharacter(for chars: [Character]) -> Character {
        var factor = 2
        var sum = 0
        for c in chars.reversed() {
            var addend = factor * (Base32.value(of: c) ?? 0)
            factor = factor == 2 ? 1 : 2
            addend = addend / 32 + addend % 32
            sum += addend
        }
        return Base32.alphabet[(32 - sum % 32) % 32]
    }
}
