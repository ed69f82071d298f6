#ifndef C_SYSTEM_SHIMS_H
#define C_SYSTEM_SHIMS_H

#include <spawn.h>
#include <stdint.h>

/// Starts writeback of a file range without waiting for it (Linux sync_file_range with
/// SYNC_FILE_RANGE_WRITE); a no-op elsewhere. Returns 0 or -1 with errno set.
int sonic_start_writeback(int fd, int64_t offset, int64_t length);

/// Hands memory freed inside the C heap back to the system (glibc's malloc_trim(0)); a
/// no-op elsewhere. Returns 1 if memory was released.
int sonic_release_free_memory(void);

/// Asks the processor to start loading the cache line holding `address` and returns at once
/// (GCC and Clang's __builtin_prefetch). A loop over ids scattered through large tables
/// prefetches a few ids ahead, so that its cache and TLB misses overlap instead of each
/// stalling the loop in turn.
static inline void sonic_prefetch(const void *address) {
    __builtin_prefetch(address);
}

/// Spawn file actions that glibc declares only under _GNU_SOURCE: change to `directory`
/// (posix_spawn_file_actions_addchdir_np), and close every descriptor from `lowest` up
/// (posix_spawn_file_actions_addclosefrom_np). Return 0 or an error number.
int sonic_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *directory);
int sonic_spawn_add_close_from(posix_spawn_file_actions_t *actions, int lowest);

#endif
