/* Host entry: the target main, renamed, called from a hosted main. */
#define main tinyasc_target_main
#include "main_target.c"
#undef main
int main(void) { return tinyasc_target_main(); }
