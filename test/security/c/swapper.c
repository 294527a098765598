/*
 * The racing attacker of the race tests (host side, standing for a second
 * container that shares a volume or the rootfs).
 *   swapper DIR A B
 * In DIR, exchanges the names A and B (renameat2 RENAME_EXCHANGE: one atomic
 * syscall, so the two names are never missing) as fast as it can, until it
 * is killed. A shell loop of mv(1) spawns a process per rename and swaps a
 * few hundred times a second; this swaps about a million times a second,
 * which is what reaches the microseconds between two syscalls of a runtime.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/fs.h>

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	int dir = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		perror(argv[1]);
		return 1;
	}
	for (;;)
		syscall(SYS_renameat2, dir, argv[2], dir, argv[3], RENAME_EXCHANGE);
}
