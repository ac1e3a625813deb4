// SPDX-License-Identifier: GPL-2.0

//! Typed access to the device-specific configuration space of a virtio device.
//!
//! A device type's configuration space is described by a `#[repr(C)]` layout, usually the uapi
//! structure of the device type (e.g. `struct virtio_gpu_config`), that implements
//! [`ConfigLayout`]. A field of the layout is named with [`virtio_config_field!`], which checks
//! at compile time that the field exists and records its offset and type; the device methods
//! [`Device::config_read`] and [`Device::config_write`] only take such fields. So an access
//! outside the layout does not compile, and an access through the layout of another device type
//! returns [`EINVAL`], as the C side's `virtio_cread(vdev, struct virtio_gpu_config, field, &v)`
//! can only name real fields either.
//!
//! C header: [`include/linux/virtio_config.h`](srctree/include/linux/virtio_config.h)

use super::Device;
use crate::{
    bindings,
    device,
    prelude::*,
    uapi, //
};
use core::marker::PhantomData;

/// The layout of the device-specific configuration space of one virtio device type.
///
/// # Safety
///
/// `Self` must be a `#[repr(C)]` structure whose fields lie at the offsets, and have the sizes,
/// that the virtio specification gives the configuration fields of devices of type
/// [`ConfigLayout::DEVICE_ID`], every one of which every such device has, whatever features
/// were negotiated (a field that depends on a feature belongs in another layout, read only once
/// the feature is known); and `size_of::<Self>()` must fit in a `u32`.
pub unsafe trait ConfigLayout {
    /// The device type (`VIRTIO_ID_*`) whose configuration space `Self` describes.
    const DEVICE_ID: u32;
}

// SAFETY: `struct virtio_gpu_config` is the uapi description of the virtio-gpu configuration
// space (16 bytes), generated `#[repr(C)]` by bindgen; all four fields exist on every
// virtio-gpu device.
unsafe impl ConfigLayout for uapi::virtio_gpu_config {
    const DEVICE_ID: u32 = bindings::VIRTIO_ID_GPU;
}

/// A scalar that can be read from and written to a virtio configuration space.
///
/// Values are converted from and to the device's byte order by the virtio core.
pub trait ConfigScalar: Copy + private::Sealed {
    /// Reads `Self` at `offset`.
    ///
    /// # Safety
    ///
    /// `offset` must be the offset of a field of type `Self` in the configuration layout of
    /// `dev`'s device type.
    #[doc(hidden)]
    unsafe fn read(dev: &Device<device::Bound>, offset: u32) -> Self;

    /// Writes `self` at `offset`.
    ///
    /// # Safety
    ///
    /// As for [`ConfigScalar::read`].
    #[doc(hidden)]
    unsafe fn write(self, dev: &Device<device::Bound>, offset: u32);
}

mod private {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for u16 {}
    impl Sealed for u32 {}
    impl Sealed for u64 {}
}

macro_rules! impl_config_scalar {
    ($t:ty, $read:ident, $write:ident) => {
        impl ConfigScalar for $t {
            unsafe fn read(dev: &Device<device::Bound>, offset: u32) -> Self {
                // SAFETY: `dev` is a valid, bound virtio device; by the safety requirements,
                // `offset..offset + size_of::<Self>()` lies within its configuration space.
                unsafe { bindings::$read(dev.as_raw(), offset) }
            }

            unsafe fn write(self, dev: &Device<device::Bound>, offset: u32) {
                // SAFETY: As for `read`.
                unsafe { bindings::$write(dev.as_raw(), offset, self) }
            }
        }
    };
}

impl_config_scalar!(u8, virtio_cread8, virtio_cwrite8);
impl_config_scalar!(u16, virtio_cread16, virtio_cwrite16);
impl_config_scalar!(u32, virtio_cread32, virtio_cwrite32);
impl_config_scalar!(u64, virtio_cread64, virtio_cwrite64);

/// A field of type `T` of the configuration layout `C`; made by [`virtio_config_field!`].
///
/// # Invariants
///
/// `offset` is the byte offset of a field of type `T` in `C`.
pub struct ConfigField<C: ConfigLayout, T: ConfigScalar> {
    offset: u32,
    _layout: PhantomData<fn(&C) -> T>,
}

impl<C: ConfigLayout, T: ConfigScalar> Clone for ConfigField<C, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C: ConfigLayout, T: ConfigScalar> Copy for ConfigField<C, T> {}

impl<C: ConfigLayout, T: ConfigScalar> ConfigField<C, T> {
    /// Names the field of `C` at `offset`; `_field` (never called) proves its type is `T`.
    ///
    /// # Safety
    ///
    /// `offset` must be the offset of the field that `_field` returns.
    #[doc(hidden)]
    pub const unsafe fn new_unchecked(offset: usize, _field: fn(&C) -> &T) -> Self {
        // INVARIANT: By the safety requirements; the offset fits in a `u32` as the layout's
        // size does (safety requirement of `ConfigLayout`).
        Self {
            offset: offset as u32,
            _layout: PhantomData,
        }
    }

    /// Returns the byte offset of the field.
    pub fn offset(&self) -> u32 {
        self.offset
    }
}

/// Names a field of a virtio configuration layout, for [`Device::config_read`] and
/// [`Device::config_write`].
///
/// The field must exist (else this does not compile); its type is the value type.
///
/// # Examples
///
/// ```
/// use kernel::{uapi::virtio_gpu_config, virtio::config::ConfigField, virtio_config_field};
///
/// let scanouts: ConfigField<virtio_gpu_config, u32> =
///     virtio_config_field!(virtio_gpu_config, num_scanouts);
/// assert_eq!(scanouts.offset(), 8);
/// ```
#[macro_export]
macro_rules! virtio_config_field {
    ($layout:ty, $field:ident) => {{
        let offset = ::core::mem::offset_of!($layout, $field);
        let field: fn(&$layout) -> &_ = |layout| &layout.$field;
        // SAFETY: `offset` is the offset of the field of the layout that `field` returns.
        unsafe { $crate::virtio::config::ConfigField::new_unchecked(offset, field) }
    }};
}

impl Device<device::Bound> {
    fn check_layout<C: ConfigLayout>(&self) -> Result {
        if self.device_id() != C::DEVICE_ID {
            dev_err!(
                self.as_ref(),
                "configuration layout of device type {} used on a device of type {}\n",
                C::DEVICE_ID,
                self.device_id()
            );
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Reads `field` of the device-specific configuration space.
    ///
    /// Returns [`EINVAL`] if `C` is not the layout of this device's type. May sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Bound, uapi::virtio_gpu_config, virtio, virtio_config_field};
    ///
    /// /// The number of scanouts of a virtio-gpu device.
    /// fn num_scanouts(dev: &virtio::Device<Bound>) -> Result<u32> {
    ///     dev.config_read(virtio_config_field!(virtio_gpu_config, num_scanouts))
    /// }
    /// ```
    pub fn config_read<C: ConfigLayout, T: ConfigScalar>(
        &self,
        field: ConfigField<C, T>,
    ) -> Result<T> {
        self.check_layout::<C>()?;
        // SAFETY: By the invariant of `ConfigField`, `field.offset` is the offset of a field of
        // type `T` in `C`, the layout of this device's type (checked above).
        Ok(unsafe { T::read(self, field.offset) })
    }

    /// Writes `value` to `field` of the device-specific configuration space.
    ///
    /// Returns [`EINVAL`] if `C` is not the layout of this device's type. May sleep.
    pub fn config_write<C: ConfigLayout, T: ConfigScalar>(
        &self,
        field: ConfigField<C, T>,
        value: T,
    ) -> Result {
        self.check_layout::<C>()?;
        // SAFETY: As in `config_read`.
        unsafe { value.write(self, field.offset) };
        Ok(())
    }
}

#[kunit_tests(rust_virtio_config)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_the_gpu_layout() {
        let events_read = crate::virtio_config_field!(uapi::virtio_gpu_config, events_read);
        let events_clear = crate::virtio_config_field!(uapi::virtio_gpu_config, events_clear);
        let scanouts = crate::virtio_config_field!(uapi::virtio_gpu_config, num_scanouts);
        let capsets = crate::virtio_config_field!(uapi::virtio_gpu_config, num_capsets);
        assert_eq!(
            [
                events_read.offset(),
                events_clear.offset(),
                scanouts.offset(),
                capsets.offset()
            ],
            [0, 4, 8, 12]
        );
    }
}
