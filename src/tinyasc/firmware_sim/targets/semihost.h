/* Semihosting output and exit for the QEMU bare-metal runs (-semihosting-config enable=on,target=native). */
#ifndef TINYASC_SEMIHOST_H
#define TINYASC_SEMIHOST_H
#include <stdint.h>

void sh_write0(const char *s);
void sh_write_u32(uint32_t v);
void sh_write_hex(const void *data, uint32_t n);
void sh_exit(int code) __attribute__((noreturn));

#endif
