/* SPDX-License-Identifier: GPL-2.0 */
/* The ioctls of /dev/dmabuf_mover (tests/dmabuf-mover/dmabuf_mover.c). */
#ifndef DMABUF_MOVER_H
#define DMABUF_MOVER_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* How the pages of a buffer lie in memory (and hence its DMA segments, without an IOMMU). */
#define DMABUF_MOVER_PAGES	0	/* one page at a time, as the allocator gives them */
#define DMABUF_MOVER_SCATTERED	1	/* no page follows the one before it: a segment each */
#define DMABUF_MOVER_CONTIGUOUS	2	/* blocks of up to 4 MiB */

struct dmabuf_mover_create {
	__u64 size;	/* bytes, whole pages */
	__u32 fill;	/* every 32-bit word of the buffer */
	__s32 fd;	/* out: the DMA-buf */
	__u32 layout;	/* DMABUF_MOVER_PAGES, _SCATTERED or _CONTIGUOUS */
	__u32 pad;
};

#define DMABUF_MOVER_FORCE 1	/* move even while pinned (a revocation) */

struct dmabuf_mover_move {
	__s32 fd;
	__u32 fill;	/* the new pages' content */
	__u32 flags;
	__u32 pad;
};

struct dmabuf_mover_stats {
	__s32 fd;
	__u32 moves;	/* out */
	__u32 pins;	/* out: pins held */
	__u32 maps;	/* out: mappings held */
};

struct dmabuf_mover_refuse {
	__s32 fd;
	__s32 error;	/* positive errno mappings fail with from now on; 0: map again */
};

#define DMABUF_MOVER_CREATE _IOWR('M', 1, struct dmabuf_mover_create)
#define DMABUF_MOVER_MOVE _IOW('M', 2, struct dmabuf_mover_move)
#define DMABUF_MOVER_STATS _IOWR('M', 3, struct dmabuf_mover_stats)
/* Adds a kernel fence that signals only when the buffer is freed. */
#define DMABUF_MOVER_STALL _IOW('M', 4, __s32)
#define DMABUF_MOVER_REFUSE _IOW('M', 5, struct dmabuf_mover_refuse)

#endif
