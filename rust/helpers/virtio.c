// SPDX-License-Identifier: GPL-2.0

#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <xen/xen.h>

__rust_helper bool rust_helper_virtio_test_feature(const struct virtio_device *vdev,
						   unsigned int fbit)
{
	/*
	 * Unlike virtio_has_feature(), never BUG() on a bit the driver did not
	 * offer: such a bit is simply not negotiated.
	 */
	return __virtio_test_bit(vdev, fbit);
}

__rust_helper int rust_helper_virtio_find_vqs(struct virtio_device *vdev,
					      unsigned int nvqs,
					      struct virtqueue *vqs[],
					      struct virtqueue_info vqs_info[])
{
	return virtio_find_vqs(vdev, nvqs, vqs, vqs_info, NULL);
}

__rust_helper void rust_helper_virtio_del_vqs(struct virtio_device *vdev)
{
	vdev->config->del_vqs(vdev);
}

__rust_helper void rust_helper_virtio_device_ready(struct virtio_device *vdev)
{
	virtio_device_ready(vdev);
}

__rust_helper u8 rust_helper_virtio_cread8(struct virtio_device *vdev,
					   unsigned int offset)
{
	return virtio_cread8(vdev, offset);
}

__rust_helper u16 rust_helper_virtio_cread16(struct virtio_device *vdev,
					     unsigned int offset)
{
	return virtio_cread16(vdev, offset);
}

__rust_helper u32 rust_helper_virtio_cread32(struct virtio_device *vdev,
					     unsigned int offset)
{
	return virtio_cread32(vdev, offset);
}

__rust_helper u64 rust_helper_virtio_cread64(struct virtio_device *vdev,
					     unsigned int offset)
{
	return virtio_cread64(vdev, offset);
}

__rust_helper void rust_helper_virtio_cwrite8(struct virtio_device *vdev,
					      unsigned int offset, u8 val)
{
	virtio_cwrite8(vdev, offset, val);
}

__rust_helper void rust_helper_virtio_cwrite16(struct virtio_device *vdev,
					       unsigned int offset, u16 val)
{
	virtio_cwrite16(vdev, offset, val);
}

__rust_helper void rust_helper_virtio_cwrite32(struct virtio_device *vdev,
					       unsigned int offset, u32 val)
{
	virtio_cwrite32(vdev, offset, val);
}

__rust_helper void rust_helper_virtio_cwrite64(struct virtio_device *vdev,
					       unsigned int offset, u64 val)
{
	virtio_cwrite64(vdev, offset, val);
}

__rust_helper void rust_helper_virtio_synchronize_cbs(struct virtio_device *vdev)
{
	virtio_synchronize_cbs(vdev);
}

__rust_helper void rust_helper_virtio_device_lock(struct virtio_device *vdev)
{
	device_lock(&vdev->dev);
}

__rust_helper void rust_helper_virtio_device_unlock(struct virtio_device *vdev)
{
	device_unlock(&vdev->dev);
}

__rust_helper bool rust_helper_virtio_uses_dma_api(const struct virtio_device *vdev)
{
	/* The rule of the virtio ring (vring_use_dma_api()). */
	return !virtio_has_dma_quirk(vdev) || xen_domain();
}
