/* SPDX-License-Identifier: GPL-2.0 */
/* The ioctls of /dev/dmabuf_mover (tests/dmabuf-mover/dmabuf_mover.c). */
#ifndef DMABUF_MOVER_H
#define DMABUF_MOVER_H

#include <linux/ioctl.h>
#include <linux/types.h>

struct dmabuf_mover_create {
	__u64 size;	/* bytes, whole pages */
	__u32 fill;	/* every 32-bit word of the buffer */
	__s32 fd;	/* out: the DMA-buf */
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

#define DMABUF_MOVER_CREATE _IOWR('M', 1, struct dmabuf_mover_create)
#define DMABUF_MOVER_MOVE _IOW('M', 2, struct dmabuf_mover_move)
#define DMABUF_MOVER_STATS _IOWR('M', 3, struct dmabuf_mover_stats)

#endif
