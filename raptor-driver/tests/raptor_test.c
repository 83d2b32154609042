// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-only
/*
 * raptor_test: exercises a loopback /dev/raptorN through the ABI of
 * include/uapi/raptor.h, as the o7s raptor IPCP will use it. Run by
 * tests/qemu-test inside a QEMU guest (linked statically: the guest has
 * busybox and nothing else):
 *
 *   raptor_test [/dev/raptor0]
 *
 * Prints one line per check and "raptor_test: N passed, M failed";
 * exits 0 only if every check passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "uapi/raptor.h"

/* The sizes the IPCP's mirror of the structs will assert too. */
_Static_assert(sizeof(struct raptor_info) == 64, "raptor_info");
_Static_assert(sizeof(struct raptor_counters) == 128, "raptor_counters");
_Static_assert(sizeof(struct raptor_reset) == 8, "raptor_reset");

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *path = "/dev/raptor0";
/* An address no process maps, hidden from the compiler's checks. */
static void *volatile bad_addr = (void *)8;
static unsigned int passed, failed;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "FAILED");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

/* A call that must fail with errno want. */
static void check_errno(long ret, int want, const char *what)
{
	int err = errno;

	if (ret == -1 && err == want)
		check(1, "%s: %s", what, strerror(want));
	else
		check(0, "%s: want %s, got %ld (%s)", what, strerror(want), ret,
		      ret == -1 ? strerror(err) : "no error");
}

static int open_dev(int flags)
{
	int fd = open(path, flags);

	if (fd < 0) {
		fprintf(stderr, "raptor_test: open %s: %s\n", path,
			strerror(errno));
		exit(2);
	}
	return fd;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A raptor frame of len octets: length field, eid, payload from seq. */
static void make_frame(uint8_t *buf, size_t len, uint8_t eid, uint32_t seq)
{
	size_t i;

	buf[0] = len & 0xff;
	buf[1] = len >> 8;
	if (len > 2)
		buf[2] = eid;
	for (i = 3; i < len; i++)
		buf[i] = (uint8_t)(seq * 7 + i);
	/* the sequence number in the payload, where it fits */
	if (len >= 7)
		memcpy(buf + 3, &seq, sizeof(seq));
}

static int frame_ok(const uint8_t *buf, size_t len, uint8_t eid,
		    uint32_t seq)
{
	static uint8_t want[RAPTOR_PAGE_LEN];

	make_frame(want, len, eid, seq);
	return memcmp(buf, want, len) == 0;
}

static struct raptor_counters counters(int fd)
{
	struct raptor_counters c;

	memset(&c, 0xff, sizeof(c));
	if (ioctl(fd, RAPTOR_IOC_COUNTERS, &c))
		check(0, "RAPTOR_IOC_COUNTERS: %s", strerror(errno));
	return c;
}

/* Waits (10 s at most) for the loopback to have sent tx_frames frames. */
static struct raptor_counters wait_sent(int fd, uint64_t tx_frames)
{
	double end = now() + 10;
	struct raptor_counters c;

	for (;;) {
		c = counters(fd);
		if (c.tx_frames + c.tx_drop_error >= tx_frames || now() > end)
			return c;
		sleep_ms(5);
	}
}

static void reset(int fd, uint32_t flags)
{
	struct raptor_reset r = { .flags = flags };

	if (ioctl(fd, RAPTOR_IOC_RESET, &r))
		check(0, "RAPTOR_IOC_RESET %#x: %s", flags, strerror(errno));
}

static int all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len--)
		if (*b++)
			return 0;
	return 1;
}

static void test_info(int fd)
{
	struct raptor_info info;

	memset(&info, 0xff, sizeof(info));
	check(ioctl(fd, RAPTOR_IOC_INFO, &info) == 0, "RAPTOR_IOC_INFO");
	check(info.abi_version == RAPTOR_ABI_VERSION, "info: abi_version %u",
	      info.abi_version);
	check(info.mode == RAPTOR_MODE_LOOPBACK, "info: loopback mode (%u)",
	      info.mode);
	check(info.mtu == 3895 && info.min_frame == 3 && info.header_len == 3,
	      "info: mtu %u, min_frame %u, header_len %u", info.mtu,
	      info.min_frame, info.header_len);
	check(info.tx_ring_size == 256 && info.rx_ring_size == 256,
	      "info: rings %u/%u", info.tx_ring_size, info.rx_ring_size);
	check(info.flags & RAPTOR_INFO_F_RUNNING, "info: running");
	check(info.pad0 == 0 && info.hw_version == 0 &&
	      all_zero(info.reserved, sizeof(info.reserved)),
	      "info: padding and reserved zero");
}

/* Frames out and back, the smallest and the largest among them. */
static void test_echo(int fd)
{
	static const size_t sizes[] = { 3, 4, 7, 64, 1500, 3894, 3895 };
	static uint8_t out[RAPTOR_PAGE_LEN], in[8192];
	uint64_t bytes = 0;
	struct raptor_counters c;
	size_t i;

	reset(fd, RAPTOR_RESET_ALL);
	c = counters(fd);
	check(all_zero(&c, sizeof(c)), "counters zero after reset");

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t len = sizes[i];
		ssize_t r;

		make_frame(out, len, (uint8_t)(2 + i), (uint32_t)i);
		r = write(fd, out, len);
		check(r == (ssize_t)len, "write a %zu-octet frame (%zd)", len,
		      r);
		memset(in, 0, sizeof(in));
		r = read(fd, in, sizeof(in));
		check(r == (ssize_t)len &&
		      frame_ok(in, len, (uint8_t)(2 + i), (uint32_t)i),
		      "read it back whole (%zd octets)", r);
		bytes += len;
	}

	c = wait_sent(fd, i);
	check(c.tx_frames == i && c.tx_bytes == bytes, "counters: tx %llu/%llu",
	      (unsigned long long)c.tx_frames, (unsigned long long)c.tx_bytes);
	check(c.rx_frames == i && c.rx_bytes == bytes, "counters: rx %llu/%llu",
	      (unsigned long long)c.rx_frames, (unsigned long long)c.rx_bytes);
	check(c.tx_drop_error + c.tx_drop_reset + c.rx_drop_no_buffer +
	      c.rx_drop_bad_length + c.rx_drop_error + c.rx_drop_reset == 0 &&
	      all_zero(c.reserved, sizeof(c.reserved)),
	      "counters: no drops");
}

static void test_bad_writes(int fd)
{
	static uint8_t buf[65536];
	struct raptor_counters before, after;

	before = counters(fd);
	make_frame(buf, 10, 2, 0);
	check_errno(write(fd, buf, 0), EINVAL, "empty write");
	check_errno(write(fd, buf, 1), EINVAL, "1-octet write");
	check_errno(write(fd, buf, 2), EINVAL, "2-octet write");
	make_frame(buf, 3896, 2, 0);
	check_errno(write(fd, buf, 3896), EMSGSIZE, "3896-octet write (MTU+1)");
	check_errno(write(fd, buf, sizeof(buf)), EMSGSIZE, "64 KiB write");
	make_frame(buf, 11, 2, 0);
	check_errno(write(fd, buf, 10), EINVAL,
		    "length field 11 on a 10-octet write");
	make_frame(buf, 2, 2, 0);
	check_errno(write(fd, buf, 3), EINVAL,
		    "length field 2 on a 3-octet write");
	check_errno(write(fd, bad_addr, 10), EFAULT, "write from a bad address");
	after = wait_sent(fd, before.tx_frames);
	check(after.tx_frames == before.tx_frames &&
	      after.rx_frames == before.rx_frames,
	      "refused writes send nothing");
}

static void test_bad_ioctls(int fd)
{
	struct raptor_reset r = { 0 };
	struct termios tio;
	uint32_t word;
	int ro;

	check_errno(ioctl(fd, _IO(RAPTOR_IOC_MAGIC, 0x7f)), ENOTTY,
		    "unknown ioctl number");
	check_errno(ioctl(fd, _IOR(RAPTOR_IOC_MAGIC, 0x00, uint32_t), &word),
		    ENOTTY, "RAPTOR_IOC_INFO with the wrong size");
	check_errno(ioctl(fd, _IOW(RAPTOR_IOC_MAGIC, 0x00,
				   struct raptor_info), &word),
		    ENOTTY, "RAPTOR_IOC_INFO with the wrong direction");
	check_errno(ioctl(fd, TCGETS, &tio), ENOTTY, "TCGETS");
	check_errno(ioctl(fd, RAPTOR_IOC_INFO, NULL), EFAULT,
		    "RAPTOR_IOC_INFO to NULL");
	check_errno(ioctl(fd, RAPTOR_IOC_COUNTERS, (void *)8), EFAULT,
		    "RAPTOR_IOC_COUNTERS to a bad address");
	check_errno(ioctl(fd, RAPTOR_IOC_RESET, NULL), EFAULT,
		    "RAPTOR_IOC_RESET from NULL");
	r.flags = 0;
	check_errno(ioctl(fd, RAPTOR_IOC_RESET, &r), EINVAL,
		    "RAPTOR_IOC_RESET without flags");
	r.flags = 1U << 7;
	check_errno(ioctl(fd, RAPTOR_IOC_RESET, &r), EINVAL,
		    "RAPTOR_IOC_RESET with an unknown flag");
	r.flags = RAPTOR_RESET_COUNTERS;
	r.reserved = 1;
	check_errno(ioctl(fd, RAPTOR_IOC_RESET, &r), EINVAL,
		    "RAPTOR_IOC_RESET with reserved set");

	ro = open_dev(O_RDONLY);
	r.reserved = 0;
	check_errno(ioctl(ro, RAPTOR_IOC_RESET, &r), EBADF,
		    "RAPTOR_IOC_RESET on a read-only descriptor");
	check(ioctl(ro, RAPTOR_IOC_COUNTERS, &(struct raptor_counters){ 0 }) ==
	      0, "RAPTOR_IOC_COUNTERS on a read-only descriptor");
	close(ro);
	check_errno(lseek(fd, 0, SEEK_SET), ESPIPE, "lseek");
}

static void test_nonblocking(int fd)
{
	static uint8_t buf[RAPTOR_PAGE_LEN];
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	int n, nb = open_dev(O_RDWR | O_NONBLOCK);
	ssize_t r;

	reset(fd, RAPTOR_RESET_RINGS);
	check_errno(read(nb, buf, sizeof(buf)), EAGAIN,
		    "nonblocking read of an empty queue");
	n = poll(&p, 1, 0);
	check(n == 1 && p.revents == POLLOUT,
	      "poll: writable, nothing to read (revents %#x)", p.revents);

	make_frame(buf, 100, 5, 42);
	check(write(nb, buf, 100) == 100, "nonblocking write");
	p.revents = 0;
	p.events = POLLIN;
	n = poll(&p, 1, 5000);
	check(n == 1 && (p.revents & POLLIN),
	      "poll: readable once the frame is back (revents %#x)",
	      p.revents);

	check_errno(read(nb, buf, 99), EMSGSIZE,
		    "read into a buffer one octet short");
	check_errno(read(nb, bad_addr, sizeof(buf)), EFAULT,
		    "read into a bad address");
	memset(buf, 0, sizeof(buf));
	r = read(nb, buf, 100);
	check(r == 100 && frame_ok(buf, 100, 5, 42),
	      "the frame stayed queued, read whole into 100 octets (%zd)", r);
	check_errno(read(nb, buf, sizeof(buf)), EAGAIN,
		    "nonblocking read: queue empty again");
	p.revents = 0;
	check(poll(&p, 1, 0) == 0, "poll: nothing to read");
	close(nb);
}

/* A reader blocked in read() or poll() wakes when a frame arrives. */
static void test_blocking_wakeup(int fd)
{
	static uint8_t buf[RAPTOR_PAGE_LEN];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	double t0;
	ssize_t r;
	pid_t pid;
	int round, status;

	for (round = 0; round < 2; round++) {
		pid = fork();
		if (pid == 0) {
			int wfd = open_dev(O_WRONLY);

			sleep_ms(200);
			make_frame(buf, 50, 9, 7 + round);
			_exit(write(wfd, buf, 50) == 50 ? 0 : 1);
		}
		t0 = now();
		if (round == 0) {
			r = read(fd, buf, sizeof(buf));
			check(r == 50 && frame_ok(buf, 50, 9, 7) &&
			      now() - t0 > 0.1,
			      "blocking read waits for the frame (%zd, %.2f s)",
			      r, now() - t0);
		} else {
			int n = poll(&p, 1, 10000);

			check(n == 1 && (p.revents & POLLIN) &&
			      now() - t0 > 0.1,
			      "blocking poll waits for the frame (%.2f s)",
			      now() - t0);
			r = read(fd, buf, sizeof(buf));
			check(r == 50 && frame_ok(buf, 50, 9, 8),
			      "and read() gets it");
		}
		waitpid(pid, &status, 0);
		check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the writer wrote from another descriptor");
	}
}

/* A blocked reader is interrupted by a signal: EINTR, nothing lost. */
static void on_alarm(int sig)
{
	(void)sig;
}

static void test_signal(int fd)
{
	static uint8_t buf[RAPTOR_PAGE_LEN];
	struct sigaction sa = { .sa_handler = on_alarm };

	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	check_errno(read(fd, buf, sizeof(buf)), EINTR,
		    "a signal interrupts a blocking read");
	alarm(0);
}

/* The receive queue is the RX ring: what does not fit is dropped. */
static void test_bounded(int fd)
{
	static uint8_t buf[RAPTOR_PAGE_LEN];
	const uint32_t extra = 44, total = 256 + extra;
	struct raptor_counters c;
	uint32_t i, got = 0, in_order = 1;
	int nb = open_dev(O_RDWR | O_NONBLOCK);
	ssize_t r;

	reset(fd, RAPTOR_RESET_ALL);
	for (i = 0; i < total; i++) {
		make_frame(buf, 200, 3, i);
		if (write(fd, buf, 200) != 200)
			break;
	}
	check(i == total, "%u writes without reading", total);
	c = wait_sent(fd, total);
	check(c.tx_frames == total, "all sent (%llu)",
	      (unsigned long long)c.tx_frames);
	check(c.rx_frames == 256 && c.rx_drop_no_buffer == extra,
	      "256 queued, %u dropped for want of a buffer (%llu, %llu)",
	      extra, (unsigned long long)c.rx_frames,
	      (unsigned long long)c.rx_drop_no_buffer);

	while ((r = read(nb, buf, sizeof(buf))) > 0) {
		if (r != 200 || !frame_ok(buf, 200, 3, got))
			in_order = 0;
		got++;
	}
	check(got == 256 && in_order && errno == EAGAIN,
	      "the first 256 read back in order, then EAGAIN (%u)", got);
	close(nb);
}

/* A reset discards the queues and counts what it discarded. */
static void test_reset(int fd)
{
	static uint8_t buf[RAPTOR_PAGE_LEN];
	struct raptor_counters c;
	struct raptor_info info;
	int i, nb = open_dev(O_RDWR | O_NONBLOCK);

	reset(fd, RAPTOR_RESET_ALL);
	for (i = 0; i < 10; i++) {
		make_frame(buf, 30, 4, i);
		if (write(fd, buf, 30) != 30)
			check(0, "write %d: %s", i, strerror(errno));
	}
	wait_sent(fd, 10);
	reset(fd, RAPTOR_RESET_RINGS);
	c = counters(fd);
	check(c.rx_frames == 10 && c.rx_drop_reset == 10,
	      "reset of the rings: 10 unread frames counted as dropped");
	check_errno(read(nb, buf, sizeof(buf)), EAGAIN,
		    "nothing to read after the reset");
	check(ioctl(fd, RAPTOR_IOC_INFO, &info) == 0 &&
	      (info.flags & RAPTOR_INFO_F_RUNNING), "running after the reset");
	make_frame(buf, 30, 4, 99);
	check(write(fd, buf, 30) == 30 && read(fd, buf, sizeof(buf)) == 30 &&
	      frame_ok(buf, 30, 4, 99), "frames flow after the reset");
	reset(fd, RAPTOR_RESET_COUNTERS);
	c = counters(fd);
	check(all_zero(&c, sizeof(c)), "reset of the counters zeroes them");
	close(nb);
}

/*
 * Two writers and a reader at once, each in its own process: frames
 * arrive whole and in each writer's order; any missing one is counted
 * as dropped.
 */
static void test_concurrent(int fd)
{
	enum { WRITERS = 2, FRAMES = 4000 };
	static uint8_t buf[RAPTOR_PAGE_LEN];
	uint32_t next[WRITERS] = { 0 }, got = 0, bad = 0;
	struct raptor_counters c;
	int w, status, ok = 1, done = 0;
	pid_t pids[WRITERS];
	double t0 = now();

	reset(fd, RAPTOR_RESET_ALL);
	for (w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		if (pids[w] == 0) {
			int wfd = open_dev(O_WRONLY);
			uint32_t i;

			for (i = 0; i < FRAMES; i++) {
				size_t len = 7 + (i * 37 + w * 101) % 3889;

				make_frame(buf, len, 10 + w, i);
				if (write(wfd, buf, len) != (ssize_t)len)
					_exit(1);
			}
			_exit(0);
		}
	}

	while (!done || got < counters(fd).rx_frames) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint32_t seq;
		ssize_t r;

		if (now() - t0 > 60) {
			check(0, "concurrent: timed out");
			break;
		}

		if (!done) {
			done = 1;
			for (w = 0; w < WRITERS; w++)
				if (pids[w] && waitpid(pids[w], &status,
						       WNOHANG) == pids[w]) {
					ok &= WIFEXITED(status) &&
					      !WEXITSTATUS(status);
					pids[w] = 0;
				}
			for (w = 0; w < WRITERS; w++)
				done &= !pids[w];
			if (done)
				wait_sent(fd, WRITERS * FRAMES);
		}
		if (poll(&p, 1, 100) != 1)
			continue;
		r = read(fd, buf, sizeof(buf));
		if (r < 7) {
			bad++;
			continue;
		}
		w = buf[2] - 10;
		if (w < 0 || w >= WRITERS) {
			bad++;
			continue;
		}
		memcpy(&seq, buf + 3, sizeof(seq));
		if (seq < next[w] || !frame_ok(buf, r, buf[2], seq) ||
		    (size_t)r != 7 + (seq * 37 + w * 101) % 3889)
			bad++;
		next[w] = seq + 1;
		got++;
	}
	c = counters(fd);
	check(ok, "concurrent: %d writers wrote %d frames each", WRITERS,
	      FRAMES);
	check(c.tx_frames == WRITERS * FRAMES, "concurrent: all sent (%llu)",
	      (unsigned long long)c.tx_frames);
	check(bad == 0, "concurrent: %u frames read, whole and in order (%u bad)",
	      got, bad);
	check(got == c.rx_frames &&
	      c.rx_frames + c.rx_drop_no_buffer == WRITERS * FRAMES,
	      "concurrent: read %u = received %llu, + %llu dropped = sent",
	      got, (unsigned long long)c.rx_frames,
	      (unsigned long long)c.rx_drop_no_buffer);
	printf("note: concurrent: %.2f s\n", now() - t0);
}

/*
 * Resets while a writer and a reader run: nothing hangs, nothing is lost
 * unaccounted. Every frame written is sent or counted as discarded by a
 * reset, and every frame received is read or counted as discarded.
 */
static void test_reset_under_load(int fd)
{
	enum { FRAMES = 3000, RESETS = 30 };
	static uint8_t buf[RAPTOR_PAGE_LEN];
	int stop[2], result[2], status = -1, i, ok = 1;
	uint32_t writes = 0, reads = 0;
	struct raptor_counters c;
	pid_t writer, reader;
	double end;

	reset(fd, RAPTOR_RESET_ALL);
	if (pipe(stop) || pipe(result)) {
		check(0, "pipe: %s", strerror(errno));
		return;
	}

	writer = fork();
	if (writer == 0) {
		int wfd = open_dev(O_WRONLY);
		uint32_t n = 0;

		for (i = 0; i < FRAMES; i++) {
			make_frame(buf, 64 + i % 1000, 20, i);
			if (write(wfd, buf, 64 + i % 1000) == 64 + i % 1000)
				n++;
		}
		_exit(write(result[1], &n, sizeof(n)) == sizeof(n) ? 0 : 1);
	}

	reader = fork();
	if (reader == 0) {
		int rfd = open_dev(O_RDONLY | O_NONBLOCK);
		uint32_t n = 0;

		close(stop[1]);
		for (;;) {
			struct pollfd p[2] = {
				{ .fd = rfd, .events = POLLIN },
				{ .fd = stop[0], .events = POLLIN },
			};

			if (poll(p, 2, 1000) < 0)
				continue;
			if (p[1].revents)
				break;
			while (read(rfd, buf, sizeof(buf)) > 0)
				n++;
		}
		_exit(write(result[1], &n, sizeof(n)) == sizeof(n) ? 0 : 1);
	}
	close(stop[0]);

	/* resets all along the writer's run, RESETS at least */
	for (i = 0; i < RESETS || waitpid(writer, &status, WNOHANG) == 0;
	     i++) {
		sleep_ms(2);
		reset(fd, RAPTOR_RESET_RINGS);
	}
	printf("note: reset under load: %d resets\n", i);
	ok &= WIFEXITED(status) && !WEXITSTATUS(status);
	ok &= read(result[0], &writes, sizeof(writes)) == sizeof(writes);

	/* all written frames sent or discarded, then stop the reader */
	end = now() + 10;
	do {
		c = counters(fd);
	} while (c.tx_frames + c.tx_drop_reset < writes && now() < end &&
		 (sleep_ms(5), 1));
	close(stop[1]);
	waitpid(reader, &status, 0);
	ok &= WIFEXITED(status) && !WEXITSTATUS(status);
	ok &= read(result[0], &reads, sizeof(reads)) == sizeof(reads);
	close(result[0]);
	close(result[1]);

	/* what the reader left is discarded, and counted, by one more reset */
	reset(fd, RAPTOR_RESET_RINGS);
	c = counters(fd);
	check(ok, "reset under load: writer and reader done");
	check(writes == FRAMES, "reset under load: %u of %u writes done",
	      writes, FRAMES);
	check(c.tx_frames + c.tx_drop_reset == writes && !c.tx_drop_error,
	      "reset under load: written %u = sent %llu + discarded %llu",
	      writes, (unsigned long long)c.tx_frames,
	      (unsigned long long)c.tx_drop_reset);
	check(c.rx_frames == reads + c.rx_drop_reset &&
	      c.rx_frames + c.rx_drop_no_buffer == c.tx_frames &&
	      !c.rx_drop_error && !c.rx_drop_bad_length,
	      "reset under load: received %llu = read %u + discarded %llu; + %llu dropped = sent",
	      (unsigned long long)c.rx_frames, reads,
	      (unsigned long long)c.rx_drop_reset,
	      (unsigned long long)c.rx_drop_no_buffer);
}

int main(int argc, char **argv)
{
	int fd;

	if (argc > 1)
		path = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open_dev(O_RDWR);

	test_info(fd);
	test_echo(fd);
	test_bad_writes(fd);
	test_bad_ioctls(fd);
	test_nonblocking(fd);
	test_blocking_wakeup(fd);
	test_signal(fd);
	test_bounded(fd);
	test_reset(fd);
	test_concurrent(fd);
	test_reset_under_load(fd);
	close(fd);

	printf("raptor_test: %u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
