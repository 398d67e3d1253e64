/*
 * Startup for the emulated Cortex-M4/M7/M55 boards: vector table, reset handler that
 * paints the stack (for the high-water mark), copies .data, zeroes .bss and enables the
 * FPU/MVE coprocessors (CP10/CP11 in CPACR), then calls main.
 */
#include <stdint.h>
#include "semihost.h"

extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end;
extern uint32_t __stack_limit, __stack_top;
int main(void);

#define STACK_PAINT 0xA5A5A5A5u
#define CPACR (*(volatile uint32_t *)0xE000ED88u)

void Reset_Handler(void) __attribute__((noreturn));
void Fault_Handler(void) __attribute__((noreturn));

void Reset_Handler(void)
{
    /* Paint the stack below the current frame; tinyasc_stack_used() finds the lowest unpainted word. */
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (volatile uint32_t *p = &__stack_limit; p < sp - 16; p++) *p = STACK_PAINT;
    for (uint32_t *s = &__data_load, *d = &__data_start; d < &__data_end;) *d++ = *s++;
    for (uint32_t *d = &__bss_start; d < &__bss_end;) *d++ = 0u;
    CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    sh_exit(main());
}

uint32_t tinyasc_stack_used(void)
{
    const uint32_t *p = &__stack_limit;
    while (p < &__stack_top && *p == STACK_PAINT) p++;
    return (uint32_t)((const uint8_t *)&__stack_top - (const uint8_t *)p);
}

void Fault_Handler(void)
{
    sh_write0("TINYASC FAULT\n");
    sh_exit(3);
}

__attribute__((section(".isr_vector"), used)) void (*const tinyasc_vectors[16])(void) = {
    (void (*)(void))(&__stack_top), Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, 0, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler, Fault_Handler,
};
