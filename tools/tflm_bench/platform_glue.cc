/*
 * Platform hooks of the bench firmware (tools/bench_vs_tflm.py):
 * - TFLM's logging (tensorflow/lite/micro/debug_log.h) goes to the semihosting console, shown
 *   when a run fails; this replaces TFLM's default debug_log.cc, which writes to stdio.
 * - No heap: TFLM allocates from its arena only, but newlib's printf and libstdc++'s operator
 *   delete reference malloc/free, whose _sbrk needs an `end` symbol tinyasc's linker script does
 *   not define. This _sbrk refuses every request, so any malloc fails instead of growing into
 *   the stack.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "tensorflow/lite/micro/debug_log.h"

extern "C" {
#include "semihost.h"

void DebugLog(const char* format, va_list args) {
  static char buffer[256];
  vsnprintf(buffer, sizeof(buffer), format, args);
  sh_write0(buffer);
}

int DebugVsnprintf(char* buffer, size_t buf_size, const char* format, va_list vlist) {
  return vsnprintf(buffer, buf_size, format, vlist);
}

void* _sbrk(ptrdiff_t increment) {
  (void)increment;
  errno = ENOMEM;
  return reinterpret_cast<void*>(-1);
}
}
