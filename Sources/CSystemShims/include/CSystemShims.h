#ifndef C_SYSTEM_SHIMS_H
#define C_SYSTEM_SHIMS_H

#include <stdint.h>

/// Starts writeback of a file range without waiting for it (Linux sync_file_range with
/// SYNC_FILE_RANGE_WRITE); a no-op elsewhere. Returns 0 or -1 with errno set.
int sonic_start_writeback(int fd, int64_t offset, int64_t length);

#endif
