/*
 * Messages on the sync socket: len:u32 (whole message) type:u16 pad:u16
 * payload. The socket is a SOCK_STREAM (Node's 'pipe' stdio), so every read
 * and write loops until the frame is complete.
 */
#include "tsrun.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		/* send with MSG_NOSIGNAL: a gone reader must be an error, not a SIGPIPE. */
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

int msg_send(int fd, uint16_t type, const void *payload, size_t len)
{
	if (len > UINT32_MAX - 8) {
		errno = EMSGSIZE;
		return -1;
	}
	uint8_t *m = malloc(8 + len);
	if (!m)
		return -1;
	put32(m, (uint32_t)(8 + len));
	m[4] = (uint8_t)type;
	m[5] = (uint8_t)(type >> 8);
	m[6] = m[7] = 0;
	if (len)
		memcpy(m + 8, payload, len);
	/* One write per message, so messages of P and C never interleave. */
	int r = write_all(fd, m, 8 + len);
	free(m);
	return r;
}

int msg_send_u32(int fd, uint16_t type, uint32_t v)
{
	uint8_t b[4];
	put32(b, v);
	return msg_send(fd, type, b, 4);
}

int msg_recv(int fd, uint16_t *type, uint8_t **payload, size_t *len, size_t max)
{
	uint8_t h[8];
	if (read_all(fd, h, 8) < 0)
		return -1;
	uint32_t total = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
	if (total < 8 || total - 8 > max) {
		errno = EMSGSIZE;
		return -1;
	}
	*type = (uint16_t)(h[4] | h[5] << 8);
	*len = total - 8;
	*payload = malloc(*len + 1);
	if (!*payload)
		return -1;
	if (read_all(fd, *payload, *len) < 0) {
		int e = errno;
		free(*payload);
		*payload = NULL;
		errno = e;
		return -1;
	}
	(*payload)[*len] = 0;
	return 0;
}

void send_error(int fd, uint32_t step, int err, const char *detail)
{
	size_t dl = strlen(detail);
	uint8_t *m = malloc(8 + dl);
	if (!m)
		return;
	put32(m, step);
	put32(m + 4, (uint32_t)err);
	memcpy(m + 8, detail, dl);
	msg_send(fd, MSG_ERROR, m, 8 + dl);
	free(m);
}
