/* Placeholder: replaced by the real helper (see PROTOCOL.md). */
#include <stdio.h>
int main(void) { fputs("tsrun-init: not built yet\n", stderr); return 2; }
