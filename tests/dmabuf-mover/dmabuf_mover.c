// SPDX-License-Identifier: GPL-2.0
/*
 * dmabuf_mover: a test exporter of dynamic DMA-bufs that moves them on request.
 *
 * /dev/dmabuf_mover takes three ioctls:
 *   DMABUF_MOVER_CREATE  a buffer of page-sized pieces filled with one 32-bit value; returns
 *                        its DMA-buf file descriptor
 *   DMABUF_MOVER_MOVE    under the buffer's reservation lock: tells the importers to let go of
 *                        their mappings, then swaps in new pages filled with a new value, so
 *                        that the next mapping has other DMA addresses and other content;
 *                        refused (EBUSY) while an importer holds a pin, unless forced
 *   DMABUF_MOVER_STATS   the buffer's counters: moves, pins and mappings held
 *
 * For the tests of virtio_rs' import path only.
 */

#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dmabuf_mover.h"

struct mover_buf {
	struct page **pages;
	unsigned long npages;
	/* Under the reservation lock. */
	unsigned int pins;
	unsigned int maps;
	unsigned int moves;
};

static void mover_free_pages(struct page **pages, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		if (pages[i])
			__free_page(pages[i]);
	kvfree(pages);
}

/* Pages filled with @fill; one page at a time, so they are rarely contiguous. */
static struct page **mover_alloc_pages(unsigned long n, u32 fill)
{
	struct page **pages;
	unsigned long i, j;

	pages = kvcalloc(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return NULL;
	for (i = 0; i < n; i++) {
		u32 *p;

		pages[i] = alloc_page(GFP_KERNEL);
		if (!pages[i]) {
			mover_free_pages(pages, n);
			return NULL;
		}
		p = kmap_local_page(pages[i]);
		for (j = 0; j < PAGE_SIZE / sizeof(u32); j++)
			p[j] = fill;
		kunmap_local(p);
	}
	return pages;
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
	if (!arg.size || arg.size > SZ_256M || !PAGE_ALIGNED(arg.size))
		return -EINVAL;
	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	buf->npages = arg.size >> PAGE_SHIFT;
	buf->pages = mover_alloc_pages(buf->npages, arg.fill);
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
	pages = mover_alloc_pages(buf->npages, arg.fill);
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
	dmabuf = mover_get(arg.fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	buf = dmabuf->priv;
	dma_resv_lock(dmabuf->resv, NULL);
	arg.moves = buf->moves;
	arg.pins = buf->pins;
	arg.maps = buf->maps;
	dma_resv_unlock(dmabuf->resv);
	dma_buf_put(dmabuf);
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
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
