// SPDX-License-Identifier: GPL-2.0
/*
 * udmabuf-shim: a user-space stand-in for /dev/udmabuf, loaded into QEMU
 * with LD_PRELOAD.
 *
 * Why: stock QEMU's virtio-gpu refuses blob=true unless it can open
 * /dev/udmabuf ("need rutabaga or udmabuf for blob resources"), and the
 * build/CI hosts have no such device.  QEMU only uses udmabuf to get a
 * contiguous CPU view of guest pages that live in the memfd backing guest
 * RAM (-object memory-backend-memfd,...,share=on), and that view can be
 * built in user space by mapping the same memfd ranges side by side.
 *
 * What is emulated:
 *  - open*() of exactly "/dev/udmabuf" returns a placeholder fd (an empty
 *    memfd) that stands for the misc device;
 *  - UDMABUF_CREATE / UDMABUF_CREATE_LIST on it apply the kernel driver's
 *    checks with its errno values, dup the memfds (so the buffer outlives
 *    the caller's memfd, as pinned pages would) and return another
 *    placeholder fd that stands for the dma-buf;
 *  - mmap() of a dma-buf placeholder maps its ranges contiguously;
 *  - DMA_BUF_IOCTL_SYNC succeeds (memfd pages are always coherent), other
 *    ioctls fail with ENOTTY;
 *  - close() of a placeholder releases its state.
 *
 * Not emulated: dup()/F_DUPFD of a dma-buf fd (the copy is a plain empty
 * memfd), fences and poll, passing the fd to another process or to a real
 * driver (EGL/GBM, vhost-user), and stdio/glibc-internal opens of the
 * device (they do not go through the interposed symbols).
 *
 * Every other fd passes straight through: the wrappers on hot paths
 * (ioctl, mmap, close) do one bounds check and one atomic load before
 * calling the real function.
 *
 * Set UDMABUF_SHIM_DEBUG=1 to log one line per device open, dma-buf
 * create and dma-buf close to stderr.
 */

/* The shim defines open() itself, so glibc's fortified inline wrappers
 * must stay out of the way. */
#undef _FORTIFY_SOURCE
#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
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

/* The udmabuf driver's module parameters: list_limit, and size_limit_mb at
 * the value this project relies on (its long-standing default; Linux 7.x
 * raised the default, QEMU's blobs stay far below either). */
#define UDMABUF_LIST_LIMIT 1024u
#define UDMABUF_SIZE_LIMIT (64ull << 20)

/* Seals the driver requires and refuses on the memfd. */
#define SEALS_WANTED F_SEAL_SHRINK
#define SEALS_DENIED (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)

/* Placeholders live in a table indexed by fd.  QEMU takes the lowest free
 * fds, so a fixed 64k-entry table (only touched pages are allocated) is
 * plenty; a placeholder that would land above it is refused with EMFILE. */
#define SHIM_MAX_FD 65536

enum shim_kind {
	SHIM_DEVICE,	/* stands for the /dev/udmabuf misc device */
	SHIM_DMABUF,	/* stands for a dma-buf made by UDMABUF_CREATE* */
};

/* Which open file an fd number refers to: fd numbers get reused, inodes
 * of live files do not. */
struct file_id {
	dev_t dev;
	ino_t ino;
};

/* A memfd the shim holds its own reference to. */
struct backing {
	int fd;
	struct file_id id;
};

/* One udmabuf_create_item: bytes [start, start + size) of the dma-buf are
 * bytes [offset, offset + size) of backings[backing]. */
struct range {
	unsigned int backing;
	uint64_t start;
	uint64_t offset;
	uint64_t size;
};

struct shim_obj {
	enum shim_kind kind;
	struct file_id id;	/* identity of the placeholder fd */
	uint64_t size;		/* dma-buf size in bytes */
	unsigned int nbackings;
	unsigned int nranges;
	struct backing *backings;
	struct range ranges[];
};

/*
 * The hot paths load a slot without the lock, so an ordinary fd costs one
 * atomic load.  A non-NULL slot only says "maybe ours": the slot is loaded
 * again and dereferenced with shim_lock held, and objects leave the table
 * only with shim_lock held, so nobody dereferences a freed object.
 */
static _Atomic(struct shim_obj *) shim_table[SHIM_MAX_FD];
static pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;
static bool shim_debug;
static uint64_t page_size;

/* The wrapped libc functions, resolved with dlsym(RTLD_NEXT). */
static struct {
	int (*open)(const char *, int, ...);
	int (*open64)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*openat64)(int, const char *, int, ...);
	int (*open_2)(const char *, int);
	int (*open64_2)(const char *, int);
	int (*openat_2)(int, const char *, int);
	int (*openat64_2)(int, const char *, int);
	int (*ioctl)(int, unsigned long, ...);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	void *(*mmap64)(void *, size_t, int, int, int, off64_t);
	int (*close)(int);
} real;

static pthread_once_t shim_once = PTHREAD_ONCE_INIT;
static atomic_bool shim_ready;

#define shim_log(...)							\
	do {								\
		if (shim_debug)						\
			fprintf(stderr, "udmabuf-shim: " __VA_ARGS__);	\
	} while (0)

/* ------------------------------------------------------------------ */
/* Initialisation                                                      */
/* ------------------------------------------------------------------ */

static void *resolve(const char *name)
{
	void *sym = dlsym(RTLD_NEXT, name);

	if (!sym) {
		fprintf(stderr, "udmabuf-shim: cannot resolve %s\n", name);
		abort();
	}
	return sym;
}

/* With the lock held across fork(), a child never inherits it locked by a
 * thread that does not exist in the child. */
static void lock_for_fork(void)
{
	pthread_mutex_lock(&shim_lock);
}

static void unlock_after_fork(void)
{
	pthread_mutex_unlock(&shim_lock);
}

static void shim_init_once(void)
{
	const char *dbg = getenv("UDMABUF_SHIM_DEBUG");

	real.open = resolve("open");
	real.open64 = resolve("open64");
	real.openat = resolve("openat");
	real.openat64 = resolve("openat64");
	real.open_2 = resolve("__open_2");
	real.open64_2 = resolve("__open64_2");
	real.openat_2 = resolve("__openat_2");
	real.openat64_2 = resolve("__openat64_2");
	real.ioctl = resolve("ioctl");
	real.mmap = resolve("mmap");
	real.mmap64 = resolve("mmap64");
	real.close = resolve("close");

	page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	shim_debug = dbg && strcmp(dbg, "1") == 0;
	pthread_atfork(lock_for_fork, unlock_after_fork, unlock_after_fork);
	atomic_store_explicit(&shim_ready, true, memory_order_release);
}

/* Cheap after the first call: other libraries' constructors may run
 * before ours and already call open() or mmap(). */
static inline void shim_init(void)
{
	if (!atomic_load_explicit(&shim_ready, memory_order_acquire))
		pthread_once(&shim_once, shim_init_once);
}

__attribute__((constructor)) static void shim_constructor(void)
{
	shim_init();
}

/* ------------------------------------------------------------------ */
/* Placeholder table                                                   */
/* ------------------------------------------------------------------ */

static int file_id_of(int fd, struct file_id *id)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}

static bool file_id_matches(int fd, const struct file_id *id)
{
	struct file_id now;

	return file_id_of(fd, &now) == 0 &&
	       now.dev == id->dev && now.ino == id->ino;
}

/* Lock-free hot-path test: could fd be one of ours? */
static inline bool maybe_shim_fd(int fd)
{
	return fd >= 0 && fd < SHIM_MAX_FD &&
	       atomic_load_explicit(&shim_table[fd], memory_order_relaxed);
}

/* Close the shim's own memfd references.  An fd that no longer refers to
 * the memfd was closed behind our back and its number may have been
 * reused, so it is left alone. */
static void obj_free(struct shim_obj *obj)
{
	for (unsigned int i = 0; i < obj->nbackings; i++) {
		struct backing *b = &obj->backings[i];

		if (file_id_matches(b->fd, &b->id))
			real.close(b->fd);
	}
	free(obj->backings);
	free(obj);
}

/* Take fd's object out of the table.  Caller holds shim_lock. */
static struct shim_obj *table_take(int fd)
{
	return atomic_exchange_explicit(&shim_table[fd], NULL,
					memory_order_relaxed);
}

/*
 * The object fd stands for, or NULL if fd is an ordinary fd.  An entry
 * whose placeholder was closed without going through close() (close_range,
 * dup2 over it, a raw syscall) no longer matches the file behind fd: it is
 * freed here so it can never take over an unrelated fd.
 * Caller holds shim_lock.
 */
static struct shim_obj *table_get(int fd)
{
	struct shim_obj *obj;

	if (fd < 0 || fd >= SHIM_MAX_FD)
		return NULL;
	obj = atomic_load_explicit(&shim_table[fd], memory_order_relaxed);
	if (!obj || file_id_matches(fd, &obj->id))
		return obj;

	shim_log("dropped stale entry fd=%d\n", fd);
	obj_free(table_take(fd));
	return NULL;
}

/* Record obj as the object behind its new placeholder fd, replacing any
 * stale entry left at that number. */
static void table_put(int fd, struct shim_obj *obj)
{
	struct shim_obj *old;

	pthread_mutex_lock(&shim_lock);
	old = atomic_exchange_explicit(&shim_table[fd], obj,
				       memory_order_relaxed);
	pthread_mutex_unlock(&shim_lock);
	if (old)
		obj_free(old);
}

/*
 * A fresh placeholder fd for obj.  It is an empty memfd: it has its own
 * inode (for stale detection) and O_RDWR access like a real dma-buf fd.
 * It is deliberately left empty, so that a copy the shim does not track
 * (dup) fails loudly with SIGBUS on access instead of reading zeros.
 */
static int placeholder_new(struct shim_obj *obj, bool cloexec)
{
	int fd = memfd_create(obj->kind == SHIM_DEVICE ? "udmabuf-shim-dev"
						       : "udmabuf-shim-dmabuf",
			      cloexec ? MFD_CLOEXEC : 0);

	if (fd < 0)
		return -1;
	if (fd >= SHIM_MAX_FD || file_id_of(fd, &obj->id) < 0) {
		real.close(fd);
		errno = EMFILE;
		return -1;
	}
	table_put(fd, obj);
	return fd;
}

/* ------------------------------------------------------------------ */
/* open("/dev/udmabuf")                                                */
/* ------------------------------------------------------------------ */

static bool is_udmabuf_path(const char *path)
{
	return path && strcmp(path, UDMABUF_PATH) == 0;
}

static int device_open(int flags)
{
	struct shim_obj *obj = calloc(1, sizeof(*obj));
	int fd;

	if (!obj) {
		errno = ENOMEM;
		return -1;
	}
	obj->kind = SHIM_DEVICE;
	fd = placeholder_new(obj, flags & O_CLOEXEC);
	if (fd < 0) {
		free(obj);
		return -1;
	}
	shim_log("open %s fd=%d\n", UDMABUF_PATH, fd);
	return fd;
}

/* The mode argument only exists for flags that create a file. */
static mode_t open_mode(int flags, va_list ap)
{
	return __OPEN_NEEDS_MODE(flags) ? va_arg(ap, mode_t) : 0;
}

#define DEFINE_OPEN(name, field)					\
int name(const char *path, int flags, ...)				\
{									\
	va_list ap;							\
	mode_t mode;							\
									\
	shim_init();							\
	if (is_udmabuf_path(path))					\
		return device_open(flags);				\
	va_start(ap, flags);						\
	mode = open_mode(flags, ap);					\
	va_end(ap);							\
	return real.field(path, flags, mode);				\
}

#define DEFINE_OPENAT(name, field)					\
int name(int dirfd, const char *path, int flags, ...)			\
{									\
	va_list ap;							\
	mode_t mode;							\
									\
	shim_init();							\
	if (is_udmabuf_path(path))					\
		return device_open(flags);				\
	va_start(ap, flags);						\
	mode = open_mode(flags, ap);					\
	va_end(ap);							\
	return real.field(dirfd, path, flags, mode);			\
}

/* The fortified entry points (used with _FORTIFY_SOURCE) take no mode. */
#define DEFINE_OPEN_2(name, field)					\
int name(const char *path, int flags);					\
int name(const char *path, int flags)					\
{									\
	shim_init();							\
	if (is_udmabuf_path(path))					\
		return device_open(flags);				\
	return real.field(path, flags);					\
}

#define DEFINE_OPENAT_2(name, field)					\
int name(int dirfd, const char *path, int flags);			\
int name(int dirfd, const char *path, int flags)			\
{									\
	shim_init();							\
	if (is_udmabuf_path(path))					\
		return device_open(flags);				\
	return real.field(dirfd, path, flags);				\
}

DEFINE_OPEN(open, open)
DEFINE_OPEN(open64, open64)
DEFINE_OPENAT(openat, openat)
DEFINE_OPENAT(openat64, openat64)
DEFINE_OPEN_2(__open_2, open_2)
DEFINE_OPEN_2(__open64_2, open64_2)
DEFINE_OPENAT_2(__openat_2, openat_2)
DEFINE_OPENAT_2(__openat64_2, openat64_2)

/* ------------------------------------------------------------------ */
/* UDMABUF_CREATE / UDMABUF_CREATE_LIST                                */
/* ------------------------------------------------------------------ */

/*
 * The driver's first pass over the list, before it looks at any memfd:
 * page-aligned offsets and sizes, a running total within the size limit,
 * and a non-empty result.  All failures are EINVAL.
 */
static int check_layout(const struct udmabuf_create_item *items,
			uint32_t count, uint64_t *total)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < count; i++) {
		if (items[i].offset % page_size || items[i].size % page_size)
			return EINVAL;
		if (items[i].size > UDMABUF_SIZE_LIMIT - sum)
			return EINVAL;
		sum += items[i].size;
	}
	if (!sum)
		return EINVAL;
	*total = sum;
	return 0;
}

/*
 * The driver's per-item check of the memfd:
 *  - not an open fd, or not a file that supports seals (shmem/hugetlbfs):
 *    EBADFD, like fget() failing or check_memfd_seals() refusing it;
 *  - F_SEAL_SHRINK missing or a write seal present: EINVAL;
 *  - an empty range or one past the end of the file: EINVAL, like
 *    memfd_pin_folios().
 */
static int check_memfd(const struct udmabuf_create_item *item)
{
	int fd = (int)item->memfd;
	struct stat st;
	int seals;

	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return EBADFD;
	if ((seals & SEALS_WANTED) != SEALS_WANTED || (seals & SEALS_DENIED))
		return EINVAL;
	if (fstat(fd, &st) < 0)
		return EBADFD;
	if (!item->size || item->offset > (uint64_t)st.st_size ||
	    item->size > (uint64_t)st.st_size - item->offset)
		return EINVAL;
	return 0;
}

/*
 * Index of the shim's own reference to memfd, taken on first use.  A
 * dma-buf usually covers many ranges of one memfd, so each distinct memfd
 * is dup'ed once.  The copy is close-on-exec: it is the shim's, not the
 * caller's.
 */
static int backing_for(struct shim_obj *obj, int memfd, unsigned int *index)
{
	struct file_id id;
	struct backing *b;
	int fd;

	if (file_id_of(memfd, &id) < 0)
		return EBADFD;
	for (unsigned int i = 0; i < obj->nbackings; i++) {
		b = &obj->backings[i];
		if (b->id.dev == id.dev && b->id.ino == id.ino) {
			*index = i;
			return 0;
		}
	}

	fd = fcntl(memfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	b = &obj->backings[obj->nbackings];
	b->fd = fd;
	b->id = id;
	*index = obj->nbackings++;
	return 0;
}

static struct shim_obj *dmabuf_alloc(uint32_t count)
{
	struct shim_obj *obj;

	obj = calloc(1, sizeof(*obj) + count * sizeof(obj->ranges[0]));
	if (!obj)
		return NULL;
	obj->backings = calloc(count, sizeof(obj->backings[0]));
	if (!obj->backings) {
		free(obj);
		return NULL;
	}
	obj->kind = SHIM_DMABUF;
	return obj;
}

/* The driver's second pass: check each memfd and take a reference to it,
 * laying the ranges out back to back in list order. */
static int dmabuf_fill(struct shim_obj *obj,
		       const struct udmabuf_create_item *items, uint32_t count)
{
	uint64_t start = 0;

	for (uint32_t i = 0; i < count; i++) {
		struct range *r = &obj->ranges[i];
		int err = check_memfd(&items[i]);

		if (!err)
			err = backing_for(obj, (int)items[i].memfd,
					  &r->backing);
		if (err)
			return err;
		r->start = start;
		r->offset = items[i].offset;
		r->size = items[i].size;
		start += r->size;
		obj->nranges++;
	}
	obj->size = start;
	return 0;
}

/* Returns the new dma-buf fd, or -errno. */
static int dmabuf_create(uint32_t flags,
			 const struct udmabuf_create_item *items,
			 uint32_t count)
{
	unsigned int nranges, nbackings;
	struct shim_obj *obj;
	uint64_t total;
	int err, fd;

	/* Stricter than the 7.3 driver, which ignores unknown flags: a
	 * caller passing one is broken, and the shim is a test tool. */
	if (flags & ~UDMABUF_FLAGS_CLOEXEC)
		return -EINVAL;
	err = check_layout(items, count, &total);
	if (err)
		return -err;

	obj = dmabuf_alloc(count);
	if (!obj)
		return -ENOMEM;
	err = dmabuf_fill(obj, items, count);
	if (err) {
		obj_free(obj);
		return -err;
	}

	/* Logged from copies: once published, obj belongs to the table. */
	nranges = obj->nranges;
	nbackings = obj->nbackings;
	fd = placeholder_new(obj, flags & UDMABUF_FLAGS_CLOEXEC);
	if (fd < 0) {
		err = errno;
		obj_free(obj);
		return -err;
	}
	shim_log("create fd=%d items=%u memfds=%u size=%llu\n", fd, nranges,
		 nbackings, (unsigned long long)total);
	return fd;
}

static int udmabuf_ioctl_create(const struct udmabuf_create *arg)
{
	struct udmabuf_create_item item;

	if (!arg)
		return -EFAULT;
	item = (struct udmabuf_create_item) {
		.memfd = arg->memfd,
		.offset = arg->offset,
		.size = arg->size,
	};
	return dmabuf_create(arg->flags, &item, 1);
}

static int udmabuf_ioctl_create_list(const struct udmabuf_create_list *arg)
{
	if (!arg)
		return -EFAULT;
	if (arg->count > UDMABUF_LIST_LIMIT)
		return -EINVAL;
	return dmabuf_create(arg->flags, arg->list, arg->count);
}

/* ------------------------------------------------------------------ */
/* ioctl()                                                             */
/* ------------------------------------------------------------------ */

static int device_ioctl(unsigned long request, void *arg)
{
	switch (request) {
	case UDMABUF_CREATE:
		return udmabuf_ioctl_create(arg);
	case UDMABUF_CREATE_LIST:
		return udmabuf_ioctl_create_list(arg);
	default:
		return -ENOTTY;
	}
}

/* memfd pages are coherent, so a sync has nothing to do; its flags are
 * still checked the way dma-buf core checks them. */
static int dmabuf_sync(const struct dma_buf_sync *arg)
{
	if (!arg)
		return -EFAULT;
	if (arg->flags & ~DMA_BUF_SYNC_VALID_FLAGS_MASK)
		return -EINVAL;
	if (!(arg->flags & DMA_BUF_SYNC_RW))
		return -EINVAL;
	return 0;
}

static int dmabuf_ioctl(unsigned long request, void *arg)
{
	if (request == DMA_BUF_IOCTL_SYNC)
		return dmabuf_sync(arg);
	return -ENOTTY;
}

/*
 * Returns 1 and sets *ret if fd is a placeholder, 0 to pass through.
 * Neither kind of ioctl needs the object itself, so the lock is only held
 * for the lookup; creation takes it again to publish the new fd.
 */
static int shim_ioctl(int fd, unsigned long request, void *arg, int *ret)
{
	struct shim_obj *obj;
	enum shim_kind kind;

	pthread_mutex_lock(&shim_lock);
	obj = table_get(fd);
	if (obj)
		kind = obj->kind;
	pthread_mutex_unlock(&shim_lock);
	if (!obj)
		return 0;

	if (kind == SHIM_DEVICE)
		*ret = device_ioctl(request, arg);
	else
		*ret = dmabuf_ioctl(request, arg);
	return 1;
}

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);

	shim_init();
	if (maybe_shim_fd(fd) && shim_ioctl(fd, request, arg, &ret)) {
		if (ret < 0) {
			errno = -ret;
			return -1;
		}
		return ret;
	}
	return real.ioctl(fd, request, arg);
}

/* ------------------------------------------------------------------ */
/* mmap()                                                              */
/* ------------------------------------------------------------------ */

/* The checks of dma_buf_mmap_internal() and the udmabuf driver's mmap:
 * shared mappings only, page-aligned offset, inside the buffer. */
static int dmabuf_mmap_check(const struct shim_obj *obj, size_t len,
			     int flags, off_t off, uint64_t *map_len)
{
	int type = flags & MAP_TYPE;
	uint64_t rounded;

	if (type != MAP_SHARED && type != MAP_SHARED_VALIDATE)
		return EINVAL;
	if (!len || off < 0 || (uint64_t)off % page_size)
		return EINVAL;
	rounded = ((uint64_t)len + page_size - 1) & ~(page_size - 1);
	if (rounded < len || (uint64_t)off > obj->size ||
	    rounded > obj->size - (uint64_t)off)
		return EINVAL;
	*map_len = rounded;
	return 0;
}

/* Map the part of range r that falls in [off, off + len) of the dma-buf
 * over the reservation at base, which stands for offset off. */
static int map_range(const struct shim_obj *obj, const struct range *r,
		     char *base, uint64_t off, uint64_t len, int prot,
		     int flags)
{
	uint64_t from = r->start > off ? r->start : off;
	uint64_t end = r->start + r->size;
	void *p;

	if (end > off + len)
		end = off + len;
	if (from >= end)
		return 0;

	p = real.mmap(base + (from - off), end - from, prot,
		      MAP_SHARED | MAP_FIXED | (flags & MAP_POPULATE),
		      obj->backings[r->backing].fd,
		      (off_t)(r->offset + (from - r->start)));
	return p == MAP_FAILED ? errno : 0;
}

/*
 * Every mmap() gets its own mapping, so the caller's plain munmap() undoes
 * it: reserve the whole length with PROT_NONE (at the caller's address if
 * it asked for one), then map each range over it in place.
 */
static void *dmabuf_mmap(const struct shim_obj *obj, void *addr, size_t len,
			 int prot, int flags, off_t off)
{
	int hint = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	uint64_t map_len;
	char *base;
	int err;

	err = dmabuf_mmap_check(obj, len, flags, off, &map_len);
	if (err) {
		errno = err;
		return MAP_FAILED;
	}

	base = real.mmap(addr, map_len, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | hint,
			 -1, 0);
	if (base == MAP_FAILED)
		return MAP_FAILED;

	for (unsigned int i = 0; i < obj->nranges; i++) {
		err = map_range(obj, &obj->ranges[i], base, (uint64_t)off,
				map_len, prot, flags);
		if (err) {
			munmap(base, map_len);
			errno = err;
			return MAP_FAILED;
		}
	}
	return base;
}

/* Returns 1 and sets *ret if fd is a placeholder, 0 to pass through. */
static int shim_mmap(void *addr, size_t len, int prot, int flags, int fd,
		     off_t off, void **ret)
{
	struct shim_obj *obj;
	int res = 0;

	pthread_mutex_lock(&shim_lock);
	obj = table_get(fd);
	if (obj) {
		res = 1;
		if (obj->kind == SHIM_DMABUF) {
			*ret = dmabuf_mmap(obj, addr, len, prot, flags, off);
		} else {
			/* The misc device has no mmap. */
			errno = ENODEV;
			*ret = MAP_FAILED;
		}
	}
	pthread_mutex_unlock(&shim_lock);
	return res;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *ret;

	shim_init();
	if (!(flags & MAP_ANONYMOUS) && maybe_shim_fd(fd) &&
	    shim_mmap(addr, len, prot, flags, fd, off, &ret))
		return ret;
	return real.mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	void *ret;

	shim_init();
	if (!(flags & MAP_ANONYMOUS) && maybe_shim_fd(fd) &&
	    shim_mmap(addr, len, prot, flags, fd, off, &ret))
		return ret;
	return real.mmap64(addr, len, prot, flags, fd, off);
}

/* ------------------------------------------------------------------ */
/* close()                                                             */
/* ------------------------------------------------------------------ */

/* Forget fd's object, if it is a placeholder.  The placeholder itself is
 * closed by the caller's close(), like any other fd.  Mappings made with
 * mmap() stay valid until munmap(), as with a real dma-buf. */
static void shim_release(int fd)
{
	struct shim_obj *obj;

	pthread_mutex_lock(&shim_lock);
	obj = table_get(fd);
	if (obj) {
		table_take(fd);
		if (obj->kind == SHIM_DMABUF)
			shim_log("close fd=%d items=%u\n", fd, obj->nranges);
		obj_free(obj);
	}
	pthread_mutex_unlock(&shim_lock);
}

int close(int fd)
{
	shim_init();
	if (maybe_shim_fd(fd))
		shim_release(fd);
	return real.close(fd);
}
