// SPDX-License-Identifier: GPL-2.0
/*
 * dmabuf_mover: a test exporter of dynamic DMA-bufs that moves them on request.
 *
 * /dev/dmabuf_mover takes these ioctls:
 *   DMABUF_MOVER_CREATE  a buffer filled with one 32-bit value, of single pages (as they
 *                        come, or none adjacent to the one before) or of 4 MiB blocks;
 *                        returns its DMA-buf file descriptor
 *   DMABUF_MOVER_MOVE    under the buffer's reservation lock: tells the importers to let go of
 *                        their mappings, then swaps in new pages filled with a new value, so
 *                        that the next mapping has other DMA addresses and other content;
 *                        refused (EBUSY) while an importer holds a pin, unless forced
 *   DMABUF_MOVER_STATS   the buffer's counters: moves, pins and mappings held
 *   DMABUF_MOVER_STALL   adds a kernel fence to the buffer that signals only when the buffer
 *                        is freed
 *   DMABUF_MOVER_REFUSE  makes mappings fail with an errno (or work again)
 *
 * For the tests of virtio_rs' import path only.
 */

#include <linux/dma-buf.h>
#include <linux/dma-fence.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>

#include "dmabuf_mover.h"

struct mover_buf {
	struct page **pages;
	unsigned long npages;
	u32 layout;
	/* Under the reservation lock. */
	unsigned int pins;
	unsigned int maps;
	unsigned int moves;
	int refuse;
	/* The fence of DMABUF_MOVER_STALL, signalled when the buffer is freed. */
	struct dma_fence *stall;
	spinlock_t stall_lock;
};

static void mover_free_pages(struct page **pages, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		if (pages[i])
			__free_page(pages[i]);
	kvfree(pages);
}

/* Descending page frame numbers: no page continues the one before it. */
static int mover_cmp_desc(const void *a, const void *b)
{
	unsigned long pa = page_to_pfn(*(struct page * const *)a);
	unsigned long pb = page_to_pfn(*(struct page * const *)b);

	return pa < pb ? 1 : pa > pb ? -1 : 0;
}

#define MOVER_BLOCK_ORDER min(10, MAX_PAGE_ORDER)

/* Fills pages[0..n) with blocks of up to 4 MiB, split into single pages. */
static int mover_alloc_blocks(struct page **pages, unsigned long n)
{
	unsigned long i = 0, j;

	while (i < n) {
		unsigned int order = MOVER_BLOCK_ORDER;
		struct page *block;

		while ((1UL << order) > n - i)
			order--;
		block = alloc_pages(GFP_KERNEL | __GFP_NOWARN, order);
		if (!block)
			return -ENOMEM;
		split_page(block, order);
		for (j = 0; j < (1UL << order); j++)
			pages[i++] = block + j;
	}
	return 0;
}

/* @n pages in @layout, filled with @fill. */
static struct page **mover_alloc_pages(unsigned long n, u32 layout, u32 fill)
{
	struct page **pages;
	unsigned long i, j;

	pages = kvcalloc(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return NULL;
	if (layout == DMABUF_MOVER_CONTIGUOUS) {
		if (mover_alloc_blocks(pages, n))
			goto fail;
	} else {
		for (i = 0; i < n; i++) {
			pages[i] = alloc_page(GFP_KERNEL);
			if (!pages[i])
				goto fail;
		}
		if (layout == DMABUF_MOVER_SCATTERED)
			sort(pages, n, sizeof(*pages), mover_cmp_desc, NULL);
	}
	for (i = 0; i < n; i++) {
		u32 *p = kmap_local_page(pages[i]);

		for (j = 0; j < PAGE_SIZE / sizeof(u32); j++)
			p[j] = fill;
		kunmap_local(p);
	}
	return pages;
fail:
	mover_free_pages(pages, n);
	return NULL;
}

static int mover_pin(struct dma_buf_attachment *attach)
{
	struct mover_buf *buf = attach->dmabuf->priv;

	buf->pins++;
	return 0;
}

static void mover_unpin(struct dma_buf_attachment *attach)
{
	struct mover_buf *buf = attach->dmabuf->priv;

	if (!WARN_ON(!buf->pins))
		buf->pins--;
}

static struct sg_table *mover_map(struct dma_buf_attachment *attach,
				  enum dma_data_direction dir)
{
	struct mover_buf *buf = attach->dmabuf->priv;
	struct sg_table *sgt;
	int ret;

	if (buf->refuse)
		return ERR_PTR(-buf->refuse);
	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table_from_pages(sgt, buf->pages, buf->npages, 0,
					buf->npages << PAGE_SHIFT, GFP_KERNEL);
	if (ret)
		goto free;
	ret = dma_map_sgtable(attach->dev, sgt, dir, 0);
	if (ret)
		goto table;
	buf->maps++;
	return sgt;
table:
	sg_free_table(sgt);
free:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void mover_unmap(struct dma_buf_attachment *attach, struct sg_table *sgt,
			enum dma_data_direction dir)
{
	struct mover_buf *buf = attach->dmabuf->priv;

	dma_unmap_sgtable(attach->dev, sgt, dir, 0);
	sg_free_table(sgt);
	kfree(sgt);
	if (!WARN_ON(!buf->maps))
		buf->maps--;
}

static void mover_release(struct dma_buf *dmabuf)
{
	struct mover_buf *buf = dmabuf->priv;

	if (buf->stall) {
		dma_fence_signal(buf->stall);
		dma_fence_put(buf->stall);
	}
	mover_free_pages(buf->pages, buf->npages);
	kfree(buf);
}

static const struct dma_buf_ops mover_ops = {
	.pin = mover_pin,
	.unpin = mover_unpin,
	.map_dma_buf = mover_map,
	.unmap_dma_buf = mover_unmap,
	.release = mover_release,
};

static long mover_create(struct dmabuf_mover_create __user *uarg)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct dmabuf_mover_create arg;
	struct mover_buf *buf;
	struct dma_buf *dmabuf;
	int fd;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (!arg.size || arg.size > SZ_256M || !PAGE_ALIGNED(arg.size) ||
	    arg.layout > DMABUF_MOVER_CONTIGUOUS || arg.pad)
		return -EINVAL;
	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	spin_lock_init(&buf->stall_lock);
	buf->npages = arg.size >> PAGE_SHIFT;
	buf->layout = arg.layout;
	buf->pages = mover_alloc_pages(buf->npages, arg.layout, arg.fill);
	if (!buf->pages) {
		kfree(buf);
		return -ENOMEM;
	}
	info.ops = &mover_ops;
	info.size = arg.size;
	info.flags = O_RDWR;
	info.priv = buf;
	dmabuf = dma_buf_export(&info);
	if (IS_ERR(dmabuf)) {
		mover_free_pages(buf->pages, buf->npages);
		kfree(buf);
		return PTR_ERR(dmabuf);
	}
	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	if (fd < 0) {
		dma_buf_put(dmabuf);
		return fd;
	}
	arg.fd = fd;
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	return 0;
}

/* The buffer of @fd if it is one of ours, with a reference. */
static struct dma_buf *mover_get(int fd)
{
	struct dma_buf *dmabuf = dma_buf_get(fd);

	if (IS_ERR(dmabuf))
		return dmabuf;
	if (dmabuf->ops != &mover_ops) {
		dma_buf_put(dmabuf);
		return ERR_PTR(-EINVAL);
	}
	return dmabuf;
}

/* The buffer of @fd if it is one of ours, with a reference and its reservation lock. */
static struct dma_buf *mover_lock(int fd)
{
	struct dma_buf *dmabuf = mover_get(fd);

	if (!IS_ERR(dmabuf))
		dma_resv_lock(dmabuf->resv, NULL);
	return dmabuf;
}

/* Undoes mover_lock(). */
static void mover_unlock(struct dma_buf *dmabuf)
{
	dma_resv_unlock(dmabuf->resv);
	dma_buf_put(dmabuf);
}

static long mover_move(struct dmabuf_mover_move __user *uarg)
{
	struct dmabuf_mover_move arg;
	struct page **pages, **old;
	struct dma_buf *dmabuf;
	struct mover_buf *buf;
	long ret = 0;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~DMABUF_MOVER_FORCE)
		return -EINVAL;
	dmabuf = mover_get(arg.fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	buf = dmabuf->priv;
	/* The new place first: nothing may fail once the importers let go. */
	pages = mover_alloc_pages(buf->npages, buf->layout, arg.fill);
	if (!pages) {
		ret = -ENOMEM;
		goto put;
	}
	dma_resv_lock(dmabuf->resv, NULL);
	if (buf->pins && !(arg.flags & DMABUF_MOVER_FORCE)) {
		dma_resv_unlock(dmabuf->resv);
		mover_free_pages(pages, buf->npages);
		ret = -EBUSY;
		goto put;
	}
	dma_buf_invalidate_mappings(dmabuf);
	old = buf->pages;
	buf->pages = pages;
	buf->moves++;
	dma_resv_unlock(dmabuf->resv);
	mover_free_pages(old, buf->npages);
put:
	dma_buf_put(dmabuf);
	return ret;
}

static long mover_stats(struct dmabuf_mover_stats __user *uarg)
{
	struct dmabuf_mover_stats arg;
	struct dma_buf *dmabuf;
	struct mover_buf *buf;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	dmabuf = mover_lock(arg.fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	buf = dmabuf->priv;
	arg.moves = buf->moves;
	arg.pins = buf->pins;
	arg.maps = buf->maps;
	mover_unlock(dmabuf);
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	return 0;
}

static const char *mover_fence_name(struct dma_fence *fence)
{
	return "dmabuf_mover";
}

static const struct dma_fence_ops mover_fence_ops = {
	.get_driver_name = mover_fence_name,
	.get_timeline_name = mover_fence_name,
};

static long mover_stall(int __user *uarg)
{
	struct dma_fence *fence;
	struct dma_buf *dmabuf;
	struct mover_buf *buf;
	long ret;
	int fd;

	if (get_user(fd, uarg))
		return -EFAULT;
	fence = kzalloc(sizeof(*fence), GFP_KERNEL);
	if (!fence)
		return -ENOMEM;
	dmabuf = mover_lock(fd);
	if (IS_ERR(dmabuf)) {
		kfree(fence);
		return PTR_ERR(dmabuf);
	}
	buf = dmabuf->priv;
	ret = buf->stall ? -EEXIST : dma_resv_reserve_fences(dmabuf->resv, 1);
	if (ret) {
		kfree(fence);
	} else {
		dma_fence_init(fence, &mover_fence_ops, &buf->stall_lock,
			       dma_fence_context_alloc(1), 1);
		dma_resv_add_fence(dmabuf->resv, fence, DMA_RESV_USAGE_KERNEL);
		buf->stall = fence;
	}
	mover_unlock(dmabuf);
	return ret;
}

static long mover_refuse(struct dmabuf_mover_refuse __user *uarg)
{
	struct dmabuf_mover_refuse arg;
	struct dma_buf *dmabuf;
	struct mover_buf *buf;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.error < 0 || arg.error > MAX_ERRNO)
		return -EINVAL;
	dmabuf = mover_lock(arg.fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	buf = dmabuf->priv;
	buf->refuse = arg.error;
	mover_unlock(dmabuf);
	return 0;
}

static long mover_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case DMABUF_MOVER_CREATE:
		return mover_create(uarg);
	case DMABUF_MOVER_MOVE:
		return mover_move(uarg);
	case DMABUF_MOVER_STATS:
		return mover_stats(uarg);
	case DMABUF_MOVER_STALL:
		return mover_stall(uarg);
	case DMABUF_MOVER_REFUSE:
		return mover_refuse(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations mover_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = mover_ioctl,
};

static struct miscdevice mover_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dmabuf_mover",
	.fops = &mover_fops,
};

module_misc_device(mover_misc);

MODULE_DESCRIPTION("Test exporter of DMA-bufs that move on request");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("DMA_BUF");
