// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side unit test for the udmabuf shim.  Run it with the shim
 * preloaded:
 *
 *	LD_PRELOAD=<dir>/udmabuf-shim.so <dir>/udmabuf-selftest
 *
 * It prints one PASS/FAIL line per check and ends with "N passed, M failed";
 * the exit status is non-zero if any check failed.  Without the shim,
 * /dev/udmabuf does not open (or is not the shim's) and that is reported
 * as a failure.
 */

#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/udmabuf.h>

#define UDMABUF_PATH "/dev/udmabuf"
#define PAGES 16		/* size of the main test memfd */
#define LIST_LIMIT 1024
#define SIZE_LIMIT (64ul << 20)

/* glibc's fortified open entry points; declared here to call them directly. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

static size_t page;
static int passed, failed;
static int dev = -1;		/* the emulated /dev/udmabuf */
static int mfd = -1;		/* PAGES pages, page i filled with tag(i) */

/* ------------------------------------------------------------------ */
/* Reporting                                                           */
/* ------------------------------------------------------------------ */

static void report(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		passed++;
		printf("PASS  %s\n", name);
		return;
	}
	failed++;
	printf("FAIL  %s", name);
	if (fmt) {
		printf(": ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
}

/* A call that must fail with errno want. */
static void expect_errno(long ret, int want, const char *name)
{
	int err = errno;

	report(ret == -1 && err == want, name, "got ret=%ld errno=%s, want %s",
	       ret, ret == -1 ? strerror(err) : "-", strerror(want));
}

static void expect_map_errno(void *p, size_t len, int want, const char *name)
{
	int err = errno;

	report(p == MAP_FAILED && err == want, name, "got %s, want %s",
	       p == MAP_FAILED ? strerror(err) : "a mapping", strerror(want));
	if (p != MAP_FAILED)
		munmap(p, len);
}

static int summary(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static unsigned char tag(unsigned int memfd_page)
{
	return (unsigned char)(0x40 + memfd_page);
}

/* A memfd of npages pages, page i filled with tag(i), with seals added. */
static int memfd_new(unsigned int npages, unsigned int mfd_flags, int seals)
{
	unsigned char *buf = malloc(page);
	int fd = memfd_create("selftest", MFD_CLOEXEC | mfd_flags);

	if (fd < 0 || !buf || ftruncate(fd, (off_t)(npages * page)) < 0)
		goto fail;
	for (unsigned int i = 0; i < npages; i++) {
		memset(buf, tag(i), page);
		if (pwrite(fd, buf, page, (off_t)(i * page)) != (ssize_t)page)
			goto fail;
	}
	if (seals && fcntl(fd, F_ADD_SEALS, seals) < 0)
		goto fail;
	free(buf);
	return fd;
fail:
	perror("memfd_new");
	exit(2);
}

static int sealed_memfd(unsigned int npages)
{
	return memfd_new(npages, MFD_ALLOW_SEALING, F_SEAL_SHRINK);
}

struct item {
	int memfd;
	uint64_t offset;	/* in bytes */
	uint64_t size;		/* in bytes */
};

/* UDMABUF_CREATE_LIST; returns the dma-buf fd or -1 with errno. */
static int create_list(unsigned int flags, const struct item *items,
		       unsigned int count)
{
	struct udmabuf_create_list *head;
	int fd, err;

	head = calloc(1, sizeof(*head) + count * sizeof(head->list[0]));
	if (!head)
		exit(2);
	head->flags = flags;
	head->count = count;
	for (unsigned int i = 0; i < count; i++) {
		head->list[i].memfd = (uint32_t)items[i].memfd;
		head->list[i].offset = items[i].offset;
		head->list[i].size = items[i].size;
	}
	fd = ioctl(dev, UDMABUF_CREATE_LIST, head);
	err = errno;
	free(head);
	errno = err;
	return fd;
}

static int create_one(int memfd, uint64_t offset, uint64_t size,
		      unsigned int flags)
{
	struct udmabuf_create c = {
		.memfd = (uint32_t)memfd,
		.flags = flags,
		.offset = offset,
		.size = size,
	};

	return ioctl(dev, UDMABUF_CREATE, &c);
}

static void *map_shared(int fd, size_t len, off_t off)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}

/* Does the mapping at p show memfd pages want[0..n-1], one per page? */
static bool pages_are(const unsigned char *p, const unsigned int *want,
		      unsigned int n, char *why, size_t whylen)
{
	for (unsigned int i = 0; i < n; i++) {
		for (size_t b = 0; b < page; b++) {
			if (p[i * page + b] != tag(want[i])) {
				snprintf(why, whylen,
					 "page %u byte %zu is 0x%02x, want 0x%02x",
					 i, b, p[i * page + b], tag(want[i]));
				return false;
			}
		}
	}
	return true;
}

static void expect_pages(const unsigned char *p, const unsigned int *want,
			 unsigned int n, const char *name)
{
	char why[128] = "";

	if (p == MAP_FAILED) {
		report(false, name, "mmap: %s", strerror(errno));
		return;
	}
	report(pages_are(p, want, n, why, sizeof(why)), name, "%s", why);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		exit(2);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The permissions column of /proc/self/maps for the mapping at p. */
static const char *perms_of(const void *p)
{
	static char perms[5];
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long start, end;
	char line[512];

	strcpy(perms, "?");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) == 3 &&
		    (unsigned long)p >= start && (unsigned long)p < end)
			break;
		strcpy(perms, "?");
	}
	if (f)
		fclose(f);
	return perms;
}

static bool is_cloexec(int fd)
{
	return fcntl(fd, F_GETFD) & FD_CLOEXEC;
}

/* The shim's placeholders are memfds named after it. */
static bool is_shim_device(int fd)
{
	char link[64], target[256];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strstr(target, "memfd:udmabuf-shim") != NULL;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void test_open_variants(void)
{
	struct {
		const char *name;
		int fd;
	} v[] = {
		{ "open", open(UDMABUF_PATH, O_RDWR) },
		{ "open64", open64(UDMABUF_PATH, O_RDWR) },
		{ "openat", openat(AT_FDCWD, UDMABUF_PATH, O_RDWR) },
		{ "openat64", openat64(AT_FDCWD, UDMABUF_PATH, O_RDWR) },
		{ "__open_2", __open_2(UDMABUF_PATH, O_RDWR) },
		{ "__open64_2", __open64_2(UDMABUF_PATH, O_RDWR) },
		{ "__openat_2", __openat_2(AT_FDCWD, UDMABUF_PATH, O_RDWR) },
		{ "__openat64_2", __openat64_2(AT_FDCWD, UDMABUF_PATH, O_RDWR) },
	};
	char name[64];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(name, sizeof(name), "%s(/dev/udmabuf) is emulated",
			 v[i].name);
		report(v[i].fd >= 0 && is_shim_device(v[i].fd), name,
		       "fd=%d", v[i].fd);
		if (v[i].fd >= 0)
			close(v[i].fd);
	}

	report(is_cloexec(dev), "device open honours O_CLOEXEC", NULL);
}

static void test_open_passthrough(void)
{
	int fd = open("/dev/null", O_RDONLY);
	int root;

	report(fd >= 0 && !is_shim_device(fd) && read(fd, &root, 1) == 0,
	       "open of another path passes through", "fd=%d", fd);
	if (fd >= 0)
		close(fd);

	expect_errno(open("/dev/udmabuf0", O_RDWR), ENOENT,
		     "only the exact path is emulated");

	root = open("/", O_RDONLY | O_DIRECTORY);
	expect_errno(openat(root, "dev/udmabuf", O_RDWR), ENOENT,
		     "relative path is not emulated");
	close(root);
}

/* Ranges out of memfd order: the dma-buf shows them in list order. */
static void test_create_list(void)
{
	const struct item items[] = {
		{ mfd, 5 * page, 2 * page },
		{ mfd, 0, page },
		{ mfd, 10 * page, 3 * page },
	};
	const unsigned int want[] = { 5, 6, 0, 10, 11, 12 };
	unsigned char *p, *q, *m;
	unsigned char byte;
	int buf;

	buf = create_list(UDMABUF_FLAGS_CLOEXEC, items, 3);
	report(buf >= 0, "CREATE_LIST with out-of-order ranges", "%s",
	       strerror(errno));
	if (buf < 0)
		return;

	p = map_shared(buf, 6 * page, 0);
	expect_pages(p, want, 6, "ranges appear in list order");
	if (p == MAP_FAILED)
		goto out;

	/* memfd -> dma-buf: memfd page 11 is dma-buf page 4. */
	m = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	m[11 * page + 7] = 0xa5;
	report(p[4 * page + 7] == 0xa5, "write via memfd is seen via dma-buf",
	       "read 0x%02x", p[4 * page + 7]);
	m[11 * page + 7] = tag(11);
	munmap(m, PAGES * page);

	/* dma-buf -> memfd: dma-buf page 2 is memfd page 0. */
	p[2 * page + 9] = 0x5a;
	report(pread(mfd, &byte, 1, 9) == 1 && byte == 0x5a,
	       "write via dma-buf is seen via memfd", "read 0x%02x", byte);
	p[2 * page + 9] = tag(0);

	/* A second mapping is independent: unmapping one keeps the other. */
	q = map_shared(buf, 6 * page, 0);
	report(q != MAP_FAILED && q != p, "each mmap is a new mapping", NULL);
	munmap(p, 6 * page);
	if (q != MAP_FAILED) {
		expect_pages(q, want, 6, "other mapping survives munmap");
		munmap(q, 6 * page);
	}
out:
	close(buf);
}

static void test_mmap_offsets(void)
{
	const struct item items[] = {
		{ mfd, 5 * page, 2 * page },
		{ mfd, 0, page },
		{ mfd, 10 * page, 3 * page },
	};
	const unsigned int want_mid[] = { 0, 10 };
	const unsigned int want_tail[] = { 11, 12 };
	const unsigned int want_last[] = { 12 };
	int buf = create_list(0, items, 3);
	void *p;

	if (buf < 0) {
		report(false, "mmap offsets", "create: %s", strerror(errno));
		return;
	}

	/* Crosses the boundary between the 2nd and 3rd range. */
	p = map_shared(buf, 2 * page, (off_t)(2 * page));
	expect_pages(p, want_mid, 2, "mmap at non-zero offset across ranges");
	if (p != MAP_FAILED)
		munmap(p, 2 * page);

	/* A length that is not a page multiple is rounded up. */
	p = mmap(NULL, page + 1, PROT_READ, MAP_SHARED, buf, (off_t)(4 * page));
	expect_pages(p, want_tail, 2, "mmap of a partial last page");
	if (p != MAP_FAILED)
		munmap(p, 2 * page);

	p = mmap64(NULL, page, PROT_READ, MAP_SHARED, buf, (off64_t)(5 * page));
	expect_pages(p, want_last, 1, "mmap64 of the last page");
	if (p != MAP_FAILED)
		munmap(p, page);

	/* The requested prot is honoured. */
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, buf, 0);
	report(p != MAP_FAILED && strcmp(perms_of(p), "r--s") == 0,
	       "read-only mmap is mapped r--s", "%s",
	       p == MAP_FAILED ? strerror(errno) : perms_of(p));
	if (p != MAP_FAILED)
		munmap(p, page);
	p = map_shared(buf, page, 0);
	report(p != MAP_FAILED && strcmp(perms_of(p), "rw-s") == 0,
	       "read-write mmap is mapped rw-s", "%s",
	       p == MAP_FAILED ? strerror(errno) : perms_of(p));
	if (p != MAP_FAILED)
		munmap(p, page);

	close(buf);
}

static void test_create_single(void)
{
	const unsigned int want[] = { 3, 4 };
	int buf = create_one(mfd, 3 * page, 2 * page, 0);
	void *p;

	report(buf >= 0, "UDMABUF_CREATE", "%s", strerror(errno));
	if (buf < 0)
		return;
	p = map_shared(buf, 2 * page, 0);
	expect_pages(p, want, 2, "UDMABUF_CREATE maps the range");
	if (p != MAP_FAILED)
		munmap(p, 2 * page);
	close(buf);
}

static void test_list_limit(void)
{
	struct item *items = calloc(LIST_LIMIT + 1, sizeof(*items));
	unsigned int want;
	void *p;
	int buf;

	for (unsigned int i = 0; i <= LIST_LIMIT; i++)
		items[i] = (struct item){ mfd, (i % PAGES) * page, page };

	expect_errno(create_list(0, items, LIST_LIMIT + 1), EINVAL,
		     "reject count > 1024 (EINVAL)");

	buf = create_list(0, items, LIST_LIMIT);
	report(buf >= 0, "accept count == 1024", "%s", strerror(errno));
	if (buf >= 0) {
		want = (LIST_LIMIT - 1) % PAGES;
		p = mmap(NULL, page, PROT_READ, MAP_SHARED, buf,
			 (off_t)((LIST_LIMIT - 1) * page));
		expect_pages(p, &want, 1, "1024th range maps the right page");
		if (p != MAP_FAILED)
			munmap(p, page);
		close(buf);
	}
	free(items);
}

/* The size limit is checked before any memfd is touched; a sparse memfd
 * above the limit costs no memory. */
static void test_size_limit(void)
{
	int big = memfd_create("selftest-big", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int buf;

	if (big < 0 || ftruncate(big, (off_t)(SIZE_LIMIT + 16 * page)) < 0 ||
	    fcntl(big, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
		report(false, "size limit", "setup: %s", strerror(errno));
		return;
	}

	expect_errno(create_one(big, 0, SIZE_LIMIT + page, 0), EINVAL,
		     "reject total > 64 MiB (EINVAL)");
	{
		const struct item items[] = {
			{ big, 0, SIZE_LIMIT / 2 },
			{ big, 0, SIZE_LIMIT / 2 + page },
		};

		expect_errno(create_list(0, items, 2), EINVAL,
			     "reject list total > 64 MiB (EINVAL)");
	}

	buf = create_one(big, 0, SIZE_LIMIT, 0);
	report(buf >= 0, "accept total == 64 MiB", "%s", strerror(errno));
	if (buf >= 0)
		close(buf);
	close(big);
}

static void test_layout_rejects(void)
{
	const struct item zero_item[] = {
		{ mfd, 0, page },
		{ mfd, page, 0 },
	};

	expect_errno(create_one(mfd, 0, page, 0x2), EINVAL,
		     "reject unknown flags (EINVAL)");
	expect_errno(create_list(0, NULL, 0), EINVAL,
		     "reject count == 0 (EINVAL)");
	expect_errno(create_one(mfd, page / 2, page, 0), EINVAL,
		     "reject unaligned offset (EINVAL)");
	expect_errno(create_one(mfd, 0, page + 1, 0), EINVAL,
		     "reject unaligned size (EINVAL)");
	expect_errno(create_one(mfd, 0, 0, 0), EINVAL,
		     "reject zero size (EINVAL)");
	expect_errno(create_list(0, zero_item, 2), EINVAL,
		     "reject zero-size item in a list (EINVAL)");
	expect_errno(create_one(mfd, (PAGES - 1) * page, 2 * page, 0), EINVAL,
		     "reject range past memfd end (EINVAL)");
	expect_errno(create_one(mfd, (PAGES + 1) * page, page, 0), EINVAL,
		     "reject offset past memfd end (EINVAL)");
	expect_errno(ioctl(dev, UDMABUF_CREATE_LIST, NULL), EFAULT,
		     "reject NULL argument (EFAULT)");
}

static void expect_memfd_rejected(int fd, int want, const char *name)
{
	expect_errno(create_one(fd, 0, page, 0), want, name);
	close(fd);
}

static void test_memfd_rejects(void)
{
	int pipefd[2], closed;

	expect_memfd_rejected(memfd_new(4, MFD_ALLOW_SEALING, 0), EINVAL,
			      "reject memfd without F_SEAL_SHRINK (EINVAL)");
	expect_memfd_rejected(memfd_new(4, MFD_ALLOW_SEALING,
					F_SEAL_SHRINK | F_SEAL_WRITE),
			      EINVAL, "reject memfd with F_SEAL_WRITE (EINVAL)");
	expect_memfd_rejected(memfd_new(4, MFD_ALLOW_SEALING,
					F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE),
			      EINVAL,
			      "reject memfd with F_SEAL_FUTURE_WRITE (EINVAL)");
	expect_memfd_rejected(memfd_new(4, 0, 0), EINVAL,
			      "reject memfd without sealing (EINVAL)");

	if (pipe(pipefd) < 0)
		exit(2);
	expect_errno(create_one(pipefd[0], 0, page, 0), EBADFD,
		     "reject non-memfd fd (EBADFD)");
	close(pipefd[0]);
	close(pipefd[1]);

	closed = dup(mfd);
	close(closed);
	expect_errno(create_one(closed, 0, page, 0), EBADFD,
		     "reject closed fd (EBADFD)");
}

static void test_ioctl_and_mmap_rejects(void)
{
	struct dma_buf_sync sync = { DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
	int buf = create_one(mfd, 0, 4 * page, 0);

	expect_errno(ioctl(dev, _IO('u', 0x7f)), ENOTTY,
		     "unknown ioctl on device (ENOTTY)");
	expect_map_errno(mmap(NULL, page, PROT_READ, MAP_SHARED, dev, 0), page,
			 ENODEV, "mmap of device (ENODEV)");
	if (buf < 0) {
		report(false, "dma-buf ioctl/mmap", "create: %s",
		       strerror(errno));
		return;
	}

	report(ioctl(buf, DMA_BUF_IOCTL_SYNC, &sync) == 0,
	       "DMA_BUF_IOCTL_SYNC start", "%s", strerror(errno));
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
	report(ioctl(buf, DMA_BUF_IOCTL_SYNC, &sync) == 0,
	       "DMA_BUF_IOCTL_SYNC end", "%s", strerror(errno));
	sync.flags = DMA_BUF_SYNC_START;
	expect_errno(ioctl(buf, DMA_BUF_IOCTL_SYNC, &sync), EINVAL,
		     "SYNC without direction (EINVAL)");
	sync.flags = DMA_BUF_SYNC_RW | 0x100;
	expect_errno(ioctl(buf, DMA_BUF_IOCTL_SYNC, &sync), EINVAL,
		     "SYNC with unknown flags (EINVAL)");
	expect_errno(ioctl(buf, UDMABUF_CREATE, NULL), ENOTTY,
		     "other ioctl on dma-buf (ENOTTY)");

	expect_map_errno(mmap(NULL, page, PROT_READ, MAP_PRIVATE, buf, 0),
			 page, EINVAL, "reject MAP_PRIVATE (EINVAL)");
	expect_map_errno(map_shared(buf, 5 * page, 0), 5 * page, EINVAL,
			 "reject mmap past end (EINVAL)");
	expect_map_errno(map_shared(buf, 2 * page, (off_t)(3 * page)),
			 2 * page, EINVAL, "reject offset+len past end (EINVAL)");
	expect_map_errno(map_shared(buf, page, (off_t)(5 * page)), page,
			 EINVAL, "reject offset past end (EINVAL)");
	expect_map_errno(map_shared(buf, page, 1), page, EINVAL,
			 "reject unaligned mmap offset (EINVAL)");
	expect_map_errno(map_shared(buf, 0, 0), 0, EINVAL,
			 "reject zero-length mmap (EINVAL)");
	close(buf);
}

static void test_cloexec(void)
{
	int with = create_one(mfd, 0, page, UDMABUF_FLAGS_CLOEXEC);
	int without = create_one(mfd, 0, page, 0);

	report(with >= 0 && is_cloexec(with),
	       "UDMABUF_FLAGS_CLOEXEC sets FD_CLOEXEC", NULL);
	report(without >= 0 && !is_cloexec(without),
	       "no flag leaves FD_CLOEXEC clear", NULL);
	close(with);
	close(without);
}

/* close() drops the placeholder and the shim's memfd reference, but, as
 * with a real dma-buf, existing mappings stay valid. */
static void test_close_releases(void)
{
	const unsigned int want[] = { 2 };
	int before = count_fds();
	int other = sealed_memfd(4);
	int buf = create_one(other, 2 * page, page, 0);
	int during = count_fds();
	unsigned char *p = map_shared(buf, page, 0);

	report(buf >= 0 && during == before + 3,
	       "create holds one placeholder and one memfd reference",
	       "fds %d -> %d", before, during);
	close(buf);
	close(other);
	report(count_fds() == before, "close releases all fds",
	       "fds %d -> %d", before, count_fds());
	expect_errno(fcntl(buf, F_GETFD), EBADF, "closed dma-buf fd is gone");
	expect_pages(p, want, 1, "mapping outlives close");
	if (p != MAP_FAILED)
		munmap(p, page);
}

/* The shim's memfd reference keeps the pages, like the driver's pins. */
static void test_memfd_closed_early(void)
{
	const unsigned int want[] = { 3, 1 };
	int other = sealed_memfd(4);
	const struct item items[] = {
		{ other, 3 * page, page },
		{ other, page, page },
	};
	int buf = create_list(0, items, 2);
	unsigned char *p;

	close(other);
	if (buf < 0) {
		report(false, "memfd closed early", "create: %s",
		       strerror(errno));
		return;
	}

	p = map_shared(buf, 2 * page, 0);
	expect_pages(p, want, 2, "dma-buf works after its memfd is closed");
	if (p != MAP_FAILED) {
		p[page] = 0x77;
		munmap(p, 2 * page);
		p = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, buf, 0);
		report(p != MAP_FAILED && p[page] == 0x77,
		       "writes persist after its memfd is closed", NULL);
		if (p != MAP_FAILED)
			munmap(p, 2 * page);
	}
	close(buf);
}

/* A placeholder closed behind the shim's back (close_range) must not
 * capture whatever file reuses its number, and its state is freed. */
static void test_stale_entry(void)
{
	int before = count_fds();
	int buf = create_one(mfd, 0, page, 0);
	int plain = memfd_new(1, 0, 0);
	void *p;

	if (buf < 0) {
		report(false, "stale entry", "create: %s", strerror(errno));
		return;
	}
	close_range((unsigned int)buf, (unsigned int)buf, 0);
	if (dup2(plain, buf) != buf)
		exit(2);
	close(plain);

	/* MAP_PRIVATE would be refused by the shim; a plain memfd takes it. */
	p = mmap(NULL, page, PROT_READ, MAP_PRIVATE, buf, 0);
	report(p != MAP_FAILED && ((unsigned char *)p)[0] == tag(0),
	       "reused fd number passes through", "%s",
	       p == MAP_FAILED ? strerror(errno) : "wrong content");
	if (p != MAP_FAILED)
		munmap(p, page);
	report(count_fds() == before + 1, "stale entry's memfd reference freed",
	       "fds %d -> %d", before, count_fds());
	close(buf);
}

static void test_passthrough(void)
{
	int pipefd[2], avail = -1;
	int plain = memfd_new(2, 0, 0);
	unsigned char *p;

	if (pipe(pipefd) < 0 || write(pipefd[1], "abc", 3) != 3)
		exit(2);
	report(ioctl(pipefd[0], FIONREAD, &avail) == 0 && avail == 3,
	       "ioctl on an ordinary fd passes through", "avail=%d", avail);
	close(pipefd[0]);
	close(pipefd[1]);

	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, plain, 0);
	report(p != MAP_FAILED && p[page] == tag(1),
	       "mmap of an ordinary fd passes through", NULL);
	if (p != MAP_FAILED)
		munmap(p, 2 * page);

	report(close(plain) == 0, "close of an ordinary fd passes through",
	       NULL);
	expect_errno(close(plain), EBADF, "close of a bad fd fails (EBADF)");
}

/* Creation and teardown from several threads at once. */
#define THREADS 4
#define ROUNDS 200

static void *thread_body(void *arg)
{
	const struct item items[] = {
		{ mfd, 7 * page, page },
		{ mfd, 2 * page, page },
	};
	long errors = 0;

	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		int buf = create_list(0, items, 2);
		unsigned char *p;

		if (buf < 0) {
			errors++;
			continue;
		}
		p = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, buf, 0);
		if (p == MAP_FAILED)
			errors++;
		else if (p[0] != tag(7) || p[page] != tag(2))
			errors++;
		if (p != MAP_FAILED)
			munmap(p, 2 * page);
		close(buf);
	}
	return (void *)errors;
}

static void test_threads(void)
{
	pthread_t t[THREADS];
	int before = count_fds();
	long errors = 0;

	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, thread_body, NULL);
	for (int i = 0; i < THREADS; i++) {
		void *ret;

		pthread_join(t[i], &ret);
		errors += (long)ret;
	}
	report(errors == 0 && count_fds() == before,
	       "concurrent create/mmap/close", "%ld errors, fds %d -> %d",
	       errors, before, count_fds());
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	page = (size_t)sysconf(_SC_PAGESIZE);

	dev = open(UDMABUF_PATH, O_RDWR | O_CLOEXEC);
	if (dev < 0 || !is_shim_device(dev)) {
		report(false, "open /dev/udmabuf", "%s; the shim is not loaded "
		       "(run with LD_PRELOAD=<dir>/udmabuf-shim.so)",
		       dev < 0 ? strerror(errno) : "it is not the shim's");
		return summary();
	}
	report(true, "open /dev/udmabuf", NULL);
	mfd = sealed_memfd(PAGES);

	test_open_variants();
	test_open_passthrough();
	test_create_list();
	test_mmap_offsets();
	test_create_single();
	test_list_limit();
	test_size_limit();
	test_layout_rejects();
	test_memfd_rejects();
	test_ioctl_and_mmap_rejects();
	test_cloexec();
	test_close_releases();
	test_memfd_closed_early();
	test_stale_entry();
	test_passthrough();
	test_threads();

	close(mfd);
	close(dev);
	return summary();
}
