// SPDX-License-Identifier: GPL-2.0

//! Abstractions for the virtio bus.
//!
//! A virtio driver implements [`Driver`] and registers with [`module_virtio_driver!`]. During
//! probe it creates its virtqueues with [`Device::find_vqs`], marks the device ready with
//! [`Device::ready`] and may then exchange buffers with the device (see [`virtqueue`]).
//!
//! Teardown follows the rules of the virtio core: on remove the bus adapter drops the driver's
//! private data, resets the device and deletes the virtqueues before returning, so a driver
//! never has to (and cannot forget to) do it itself. Virtqueue handles that outlive the binding
//! are revoked and report [`ENODEV`].
//!
//! C header: [`include/linux/virtio.h`](srctree/include/linux/virtio.h)

use crate::{
    bindings,
    device,
    device_id::RawDeviceId,
    driver,
    error::{
        from_result,
        to_result, //
    },
    prelude::*,
    sync::{
        static_lock_class,
        Arc, //
    },
    types::{
        ForeignOwnable,
        Opaque, //
    },
    ThisModule, //
};
use core::{
    marker::PhantomData,
    mem::offset_of,
    ptr::{
        addr_of_mut,
        NonNull, //
    },
};

pub mod config;
pub mod virtqueue;

pub use config::{
    ConfigField,
    ConfigLayout,
    ConfigScalar, //
};
pub use virtqueue::{
    AddError,
    Buffer,
    Prepared,
    QueueHandler,
    Queues,
    Segments,
    Virtqueue,
    VirtqueueGuard, //
};

/// Feature bits defined by the virtio specification for every device type (transport features).
pub mod features {
    /// The device complies with virtio 1.0 or later (`VIRTIO_F_VERSION_1`).
    pub const VERSION_1: u32 = bindings::VIRTIO_F_VERSION_1;
    /// The device needs the platform's DMA translation (`VIRTIO_F_ACCESS_PLATFORM`).
    pub const ACCESS_PLATFORM: u32 = bindings::VIRTIO_F_ACCESS_PLATFORM;
}

/// An adapter for the registration of virtio drivers.
pub struct Adapter<T: Driver>(T);

/// What the adapter keeps for a bound device: the driver's data and the work item that runs
/// [`Driver::config_changed`] in process context.
///
/// # Invariants
///
/// - `vdev` is the device this binding is the driver data of.
/// - `config_work` is initialised with `Adapter::<T>::config_work_callback`, where `T` is the
///   driver whose data is `data`.
#[pin_data]
pub struct Binding<D> {
    #[pin]
    data: D,
    #[pin]
    config_work: Opaque<bindings::work_struct>,
    vdev: *mut bindings::virtio_device,
}

impl<D> Binding<D> {
    fn data(self: Pin<&Self>) -> Pin<&D> {
        // SAFETY: `data` is structurally pinned (`#[pin]`).
        unsafe { self.map_unchecked(|binding| &binding.data) }
    }
}

// SAFETY:
// - `bindings::virtio_driver` is a C type declared as `repr(C)`.
// - `T::Data` is the type of the driver's device private data.
// - `struct virtio_driver` embeds a `struct device_driver`.
// - `DEVICE_DRIVER_OFFSET` is the correct byte offset to the embedded `struct device_driver`.
unsafe impl<T: Driver> driver::DriverLayout for Adapter<T> {
    type DriverType = bindings::virtio_driver;
    type DriverData<'bound> = Binding<T::Data<'bound>>;
    const DEVICE_DRIVER_OFFSET: usize = offset_of!(Self::DriverType, driver);
}

// SAFETY: A call to `unregister` for a given instance of `DriverType` is guaranteed to be valid if
// a preceding call to `register` has been successful.
unsafe impl<T: Driver> driver::RegistrationOps for Adapter<T> {
    unsafe fn register(
        vdrv: &Opaque<Self::DriverType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        let features = T::FEATURES;
        let nfeatures = u32::try_from(features.len()).map_err(|_| EINVAL)?;

        // SAFETY: It's safe to set the fields of `struct virtio_driver` on initialization; the
        // tables referenced are `'static`.
        unsafe {
            let drv = vdrv.get();
            (*drv).driver.name = name.as_char_ptr();
            (*drv).id_table = T::ID_TABLE.as_ptr();
            (*drv).feature_table = features.as_ptr();
            (*drv).feature_table_size = nfeatures;
            (*drv).probe = Some(Self::probe_callback);
            (*drv).remove = Some(Self::remove_callback);
            if T::HAS_CONFIG_CHANGED {
                (*drv).config_changed = Some(Self::config_changed_callback);
            }
            if T::HAS_FREEZE && T::HAS_RESTORE {
                (*drv).freeze = Some(Self::freeze_callback);
                (*drv).restore = Some(Self::restore_callback);
            }
        }

        // SAFETY: `vdrv` is guaranteed to be a valid `DriverType`.
        to_result(unsafe { bindings::__register_virtio_driver(vdrv.get(), module.as_ptr()) })
    }

    unsafe fn unregister(vdrv: &Opaque<Self::DriverType>) {
        // SAFETY: `vdrv` is guaranteed to be a valid `DriverType`.
        unsafe { bindings::unregister_virtio_driver(vdrv.get()) }
    }
}

impl<T: Driver> Adapter<T> {
    extern "C" fn probe_callback(vdev: *mut bindings::virtio_device) -> c_int {
        // SAFETY: The virtio bus only ever calls the probe callback with a valid pointer to a
        // `struct virtio_device`.
        //
        // INVARIANT: `vdev` is valid for the duration of `probe_callback()`.
        let dev = unsafe { &*vdev.cast::<Device<device::CoreInternal<'_>>>() };

        // `priv` is the bound driver's; a previous driver of the device may have left its own
        // pointer there.
        //
        // SAFETY: `vdev` is valid; no driver is bound, so nothing else uses `priv_`.
        unsafe { (*vdev).priv_ = core::ptr::null_mut() };

        let ret = from_result(|| {
            let binding = try_pin_init!(Binding {
                data <- T::probe(dev),
                config_work <- Opaque::ffi_init(|slot| {
                    // SAFETY: `slot` is a valid, unused `work_struct`; `config_work_callback`
                    // matches this binding's type, as the invariant of `Binding` requires.
                    unsafe {
                        bindings::init_work_with_key(
                            slot,
                            Some(Self::config_work_callback),
                            false,
                            c"virtio::Binding::config_work".as_char_ptr(),
                            static_lock_class!().as_ptr(),
                        )
                    }
                }),
                // INVARIANT: The binding becomes the driver data of `vdev` below.
                vdev,
            }? Error);

            dev.as_ref().set_drvdata(binding)?;
            Ok(0)
        });

        if ret != 0 {
            // The virtio core does not reset a device whose probe failed: stop it here, together
            // with any virtqueues the driver created before failing.
            dev.shutdown();
        }
        ret
    }

    extern "C" fn remove_callback(vdev: *mut bindings::virtio_device) {
        // SAFETY: The virtio bus only ever calls the remove callback with a valid pointer to a
        // `struct virtio_device`.
        //
        // INVARIANT: `vdev` is valid for the duration of `remove_callback()`.
        let dev = unsafe { &*vdev.cast::<Device<device::CoreInternal<'_>>>() };

        // SAFETY: `remove_callback` is only ever called after a successful call to
        // `probe_callback`, hence it's guaranteed that `Device::set_drvdata()` has been called
        // and stored a `Pin<KBox<Binding<T::Data<'_>>>>`.
        let binding = unsafe { dev.as_ref().drvdata_borrow::<Binding<T::Data<'_>>>() };

        // The virtio core disabled configuration callbacks before calling remove, so nothing
        // queues the work again: drop a pending run and wait for a running one.
        //
        // SAFETY: `config_work` was initialised in `probe_callback()`.
        unsafe { bindings::cancel_work_sync(binding.config_work.get()) };

        T::unbind(dev, binding.data());

        // The virtio core requires the device to be reset when `remove` returns. Drop the
        // driver's data first, so its teardown may still use the virtqueues; the generic
        // post-unbind callback then finds nothing left to drop.
        //
        // SAFETY: `Binding<T::Data>` is the type stored by `set_drvdata()` in
        // `probe_callback()`, and `binding` (the borrow above) is no longer used.
        drop(unsafe { dev.as_ref().drvdata_obtain::<Binding<T::Data<'_>>>() });

        dev.shutdown();
    }

    extern "C" fn config_changed_callback(vdev: *mut bindings::virtio_device) {
        // SAFETY: The virtio core only calls `config_changed` with a valid device, while the
        // driver is bound (between a successful probe and remove, see
        // `virtio_config_core_enable()` and `virtio_config_core_disable()`).
        //
        // INVARIANT: `vdev` is valid and bound for the duration of this callback.
        let dev = unsafe { &*vdev.cast::<Device<device::BoundInternal>>() };

        // SAFETY: The device is bound, hence probe succeeded and stored a
        // `Pin<KBox<Binding<T::Data<'_>>>>` that is only dropped in `remove_callback()`.
        let binding = unsafe { dev.as_ref().drvdata_borrow::<Binding<T::Data<'_>>>() };

        // This runs with a spinlock held: the driver's hook, which may sleep, runs from the
        // binding's work item. A change while the work is pending is covered by that run.
        //
        // SAFETY: `config_work` was initialised in `probe_callback()` and is cancelled before
        // the binding is dropped; `system_dfl_wq` is always valid.
        unsafe {
            bindings::queue_work_on(
                bindings::wq_misc_consts_WORK_CPU_UNBOUND as c_int,
                bindings::system_dfl_wq,
                binding.config_work.get(),
            )
        };
    }

    extern "C" fn config_work_callback(work: *mut bindings::work_struct) {
        // SAFETY: By the invariant of `Binding`, this callback is only registered for the
        // `config_work` of a `Binding<T::Data<'_>>`, which stays alive while its work may run
        // (`remove_callback()` cancels it before dropping the binding).
        let binding = unsafe {
            &*crate::container_of!(Opaque::cast_from(work), Binding<T::Data<'_>>, config_work)
        };

        // SAFETY: By the invariant of `Binding`, `vdev` is its device, which is bound while the
        // work may run (see above).
        //
        // INVARIANT: `vdev` is valid and bound for the duration of this callback.
        let dev = unsafe { &*binding.vdev.cast::<Device<device::BoundInternal>>() };

        // SAFETY: The binding is pinned in its `KBox`, so is its structurally pinned `data`.
        let binding = unsafe { Pin::new_unchecked(binding) };

        T::config_changed(dev, binding.data());
    }
}

/// The lock of a virtio device, held while alive.
///
/// # Invariants
///
/// `vdev` is a valid virtio device whose lock this holds.
struct DeviceLock(*mut bindings::virtio_device);

impl DeviceLock {
    /// Takes the lock of `vdev`.
    ///
    /// # Safety
    ///
    /// `vdev` must be valid for the lifetime of the result, and the caller must not hold its
    /// lock.
    unsafe fn new(vdev: *mut bindings::virtio_device) -> Self {
        // SAFETY: `vdev` is valid and its lock not held by us, by the safety requirements.
        unsafe { bindings::virtio_device_lock(vdev) };
        // INVARIANT: The lock was just taken.
        Self(vdev)
    }
}

impl Drop for DeviceLock {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, `self.0` is valid and we hold its lock.
        unsafe { bindings::virtio_device_unlock(self.0) };
    }
}

impl<T: Driver> Adapter<T> {
    /// Returns whether `vdev` is still bound to a driver. The caller holds the device lock.
    ///
    /// The virtio core looked this driver up without the device lock before calling freeze or
    /// restore; only an unbind can have happened since: the PM core blocks probing from the
    /// start of a system sleep transition to its end, so no other driver can have bound.
    ///
    /// # Safety
    ///
    /// `vdev` must be valid, its lock held by the caller.
    unsafe fn still_bound(vdev: *mut bindings::virtio_device) -> bool {
        // SAFETY: `vdev` is valid; `dev.driver` does not change while the lock is held.
        !unsafe { (*vdev).dev.driver }.is_null()
    }

    extern "C" fn freeze_callback(vdev: *mut bindings::virtio_device) -> c_int {
        // The transports call freeze and restore from the PM callbacks of their own device (the
        // parent), with that device's lock held but not this one's. Take it, so that they are
        // serialised with probe and remove as the `Core` context promises; the PM core holds
        // the parent's lock, and locks are always taken parent first.
        //
        // SAFETY: The transport calls `freeze` with a valid device, which outlives the call;
        // its lock is not held by the caller (see above).
        let _lock = unsafe { DeviceLock::new(vdev) };

        // The virtio core looked the driver up without the lock: it may have been unbound.
        //
        // SAFETY: `vdev` is valid and locked.
        if !unsafe { Self::still_bound(vdev) } {
            return 0;
        }

        // SAFETY: `vdev` is valid; the device lock is held and it is bound to this driver.
        //
        // INVARIANT: `vdev` is valid and bound, with its lock held, for the duration of this
        // callback.
        let dev = unsafe { &*vdev.cast::<Device<device::CoreInternal<'_>>>() };

        // SAFETY: The device is still bound (checked above under the lock), to this driver (see
        // `still_bound()`), hence probe stored a `Pin<KBox<Binding<T::Data<'_>>>>`, which only
        // remove drops.
        let binding = unsafe { dev.as_ref().drvdata_borrow::<Binding<T::Data<'_>>>() };

        // The virtio core disabled configuration callbacks; let a change already seen be
        // handled while the device still works.
        //
        // SAFETY: `config_work` was initialised in `probe_callback()`.
        unsafe { bindings::flush_work(binding.config_work.get()) };

        from_result(|| {
            T::freeze(dev, binding.data())?;
            // The driver quiesced the device: stop it and delete the queues, as the virtio core
            // expects from a frozen driver.
            dev.shutdown();
            Ok(0)
        })
    }

    extern "C" fn restore_callback(vdev: *mut bindings::virtio_device) -> c_int {
        // SAFETY: As in `freeze_callback`.
        let _lock = unsafe { DeviceLock::new(vdev) };

        // SAFETY: As in `freeze_callback`.
        if !unsafe { Self::still_bound(vdev) } {
            return 0;
        }

        // SAFETY: As in `freeze_callback`.
        //
        // INVARIANT: `vdev` is valid and bound, with its lock held, for the duration of this
        // callback.
        let dev = unsafe { &*vdev.cast::<Device<device::CoreInternal<'_>>>() };

        // SAFETY: As in `freeze_callback`.
        let binding = unsafe { dev.as_ref().drvdata_borrow::<Binding<T::Data<'_>>>() };

        from_result(|| {
            T::restore(dev, binding.data())?;
            Ok(0)
        })
    }
}

impl<Ctx: device::DeviceContext> Device<Ctx> {
    /// Resets the device and deletes its virtqueues, revoking the driver's handles to them.
    fn shutdown(&self) {
        let vdev = self.as_raw();

        // SAFETY: By the type invariant `vdev` is valid. While this driver is bound, `priv_` is
        // only written by `probe_callback`, `find_vqs` (from probe or restore) and here (from
        // the probe failure, freeze and remove paths), which the device lock serialises.
        let queues = unsafe { (*vdev).priv_ };

        if !queues.is_null() {
            // SAFETY: A non-null `priv_` was stored by `find_vqs` from
            // `KBox<virtqueue::ErasedQueues>::into_foreign()`, and is only freed below.
            unsafe { KBox::<virtqueue::ErasedQueues>::borrow(queues) }.stop();
        }

        // SAFETY: `vdev` is valid; resetting stops the device from using any buffer.
        unsafe { bindings::virtio_reset_device(vdev) };

        // Wait for running queue callbacks (the PCI transports already did in their reset):
        // from here on none schedules the processing work (see `stop()` above).
        //
        // SAFETY: `vdev` is valid.
        unsafe { bindings::virtio_synchronize_cbs(vdev) };

        if queues.is_null() {
            return;
        }

        // SAFETY: As above; this is the only place that takes the box back.
        let queues = unsafe { KBox::<virtqueue::ErasedQueues>::from_foreign(queues) };

        // Let the processing work finish, so that the driver's handler does not collect
        // buffers while they are taken back; then take back what the device still held and
        // free the queues. Freeing the queues also waits for running callbacks, which use
        // `priv_`.
        queues.flush();
        queues.revoke();

        // SAFETY: `vdev` is valid and its virtqueues were created by `find_vqs`.
        unsafe { bindings::virtio_del_vqs(vdev) };

        // SAFETY: As above; no callback can run any more.
        unsafe { (*vdev).priv_ = core::ptr::null_mut() };
        drop(queues);
    }
}

/// Declares a kernel module that exposes a single virtio driver.
///
/// # Examples
///
/// ```ignore
/// kernel::module_virtio_driver! {
///     type: MyDriver,
///     name: "my_virtio_driver",
///     authors: ["Rust for Linux Contributors"],
///     description: "My virtio driver",
///     license: "GPL v2",
/// }
/// ```
#[macro_export]
macro_rules! module_virtio_driver {
    ($($f:tt)*) => {
        $crate::module_driver!(<T>, $crate::virtio::Adapter<T>, { $($f)* });
    };
}

/// Abstraction for `bindings::virtio_device_id`.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct DeviceId(bindings::virtio_device_id);

impl DeviceId {
    /// Matches a device of type `device` from any vendor (`VIRTIO_DEV_ANY_ID`).
    pub const fn new(device: u32) -> Self {
        Self(bindings::virtio_device_id {
            device,
            vendor: bindings::VIRTIO_DEV_ANY_ID,
        })
    }

    /// Matches a device of type `device` from `vendor` only.
    pub const fn with_vendor(device: u32, vendor: u32) -> Self {
        Self(bindings::virtio_device_id { device, vendor })
    }
}

// SAFETY: `DeviceId` is a `#[repr(transparent)]` wrapper of `virtio_device_id` and does not add
// additional invariants, so it's safe to transmute to `RawType`. Virtio device ids carry no driver
// data, so tables are built without index (`RawDeviceIdIndex` is not implemented).
unsafe impl RawDeviceId for DeviceId {
    type RawType = bindings::virtio_device_id;
}

/// Virtio device types (`VIRTIO_ID_*`) that drivers match on.
pub mod ids {
    use crate::bindings;

    /// Network card.
    pub const NET: u32 = bindings::VIRTIO_ID_NET;
    /// Block device.
    pub const BLOCK: u32 = bindings::VIRTIO_ID_BLOCK;
    /// Console.
    pub const CONSOLE: u32 = bindings::VIRTIO_ID_CONSOLE;
    /// GPU device.
    pub const GPU: u32 = bindings::VIRTIO_ID_GPU;
    /// Input device.
    pub const INPUT: u32 = bindings::VIRTIO_ID_INPUT;
}

/// IdTable type for virtio drivers.
pub type IdTable = &'static dyn kernel::device_id::IdTable<DeviceId, ()>;

/// Create a virtio `IdTable` with its alias for modpost.
///
/// # Examples
///
/// ```
/// use kernel::virtio;
///
/// kernel::virtio_device_table!(ID_TABLE, [virtio::DeviceId::new(virtio::ids::GPU)]);
///
/// const TABLE: virtio::IdTable = &ID_TABLE;
/// ```
#[macro_export]
macro_rules! virtio_device_table {
    ($table_name:ident, [$($id:expr),* $(,)?]) => {
        $crate::module_device_table!("virtio", $crate::virtio::DeviceId, $table_name, @none,
                                     [$($id),*]);
    };
}

/// The virtio driver trait.
///
/// Drivers must implement this trait in order to get a virtio driver registered.
#[vtable]
pub trait Driver {
    /// The type of the driver's bus device private data.
    type Data<'bound>: Send + 'bound;

    /// The table of device ids supported by the driver.
    const ID_TABLE: IdTable;

    /// The feature bits the driver supports; the device's features are negotiated against it
    /// before probe. Query the outcome with [`Device::has_feature`].
    const FEATURES: &'static [u32];

    /// Virtio driver probe.
    ///
    /// Called when a virtio device matches the driver, after feature negotiation. The device is
    /// marked ready by the virtio core when probe returns, unless the driver called
    /// [`Device::ready`] itself (needed to exchange buffers with the device during probe).
    fn probe<'bound>(
        dev: &'bound Device<device::Core<'_>>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound;

    /// Virtio driver unbind.
    ///
    /// Called when a [`Device`] is unbound from its bound [`Driver`], before the driver's data is
    /// dropped and the device is reset. Implementing this callback is optional.
    fn unbind<'bound>(dev: &'bound Device<device::Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        let _ = (dev, this);
    }

    /// The device's configuration space changed.
    ///
    /// Runs in process context, from a work item of the bus adapter (the virtio core reports
    /// changes with a spinlock held), so it may sleep, read the configuration space and talk to
    /// the device. Changes seen while a call is pending are reported by that call. Never runs
    /// during probe, after remove started or while the device is frozen; a change seen before
    /// freeze is handled before [`Driver::freeze`] is called.
    fn config_changed<'bound>(dev: &'bound Device<device::Bound>, this: Pin<&Self::Data<'bound>>) {
        let _ = (dev, this);
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// The system is about to sleep: quiesce the device (stop submitting, wait for what is in
    /// flight). On success the adapter resets the device and deletes its virtqueues; the
    /// driver's queue handles are revoked. Used only if [`Driver::restore`] is implemented too.
    fn freeze<'bound>(
        dev: &'bound Device<device::Core<'_>>,
        this: Pin<&Self::Data<'bound>>,
    ) -> Result {
        let _ = (dev, this);
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// The system woke up after [`Driver::freeze`]: the device was reset and has no virtqueues;
    /// create them again with [`Device::find_vqs`] and call [`Device::ready`].
    fn restore<'bound>(
        dev: &'bound Device<device::Core<'_>>,
        this: Pin<&Self::Data<'bound>>,
    ) -> Result {
        let _ = (dev, this);
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The virtio device representation.
///
/// This structure represents the Rust abstraction for a C `struct virtio_device`. The
/// implementation abstracts the usage of an already existing C `struct virtio_device` within Rust
/// code that we get passed from the C side.
///
/// # Invariants
///
/// A [`Device`] instance represents a valid `struct virtio_device` created by the C portion of the
/// kernel.
#[repr(transparent)]
pub struct Device<Ctx: device::DeviceContext = device::Normal>(
    Opaque<bindings::virtio_device>,
    PhantomData<Ctx>,
);

impl<Ctx: device::DeviceContext> Device<Ctx> {
    pub(crate) fn as_raw(&self) -> *mut bindings::virtio_device {
        self.0.get()
    }

    /// Returns the virtio device type (`VIRTIO_ID_*`).
    pub fn device_id(&self) -> u32 {
        // SAFETY: By the type invariant `self.as_raw()` is valid; `id` is set at creation.
        unsafe { (*self.as_raw()).id.device }
    }

    /// Returns the virtio vendor id.
    pub fn vendor_id(&self) -> u32 {
        // SAFETY: By the type invariant `self.as_raw()` is valid; `id` is set at creation.
        unsafe { (*self.as_raw()).id.vendor }
    }

    /// Returns the index of the device on the virtio bus (the `N` of `virtioN`).
    pub fn index(&self) -> i32 {
        // SAFETY: By the type invariant `self.as_raw()` is valid; `index` is set at creation.
        unsafe { (*self.as_raw()).index }
    }
}

impl Device<device::Bound> {
    /// Returns whether feature `bit` was negotiated with the device.
    ///
    /// A bit that the driver did not list in [`Driver::FEATURES`] is never negotiated.
    pub fn has_feature(&self, bit: u32) -> bool {
        // SAFETY: By the type invariant `self.as_raw()` is valid.
        unsafe { bindings::virtio_test_feature(self.as_raw(), bit) }
    }

    /// Returns whether addresses given to the device are DMA addresses (mapped for
    /// [`Self::dma_device`] through the DMA API), as opposed to guest physical addresses.
    ///
    /// Legacy devices without [`features::ACCESS_PLATFORM`] bypass the platform's DMA
    /// translation (outside Xen guests), as the virtio ring does for its own buffers: give
    /// them the physical addresses of a buffer's pages, and skip DMA syncs. With the DMA API,
    /// map buffers for the DMA device and sync them before the device reads them.
    pub fn uses_dma_api(&self) -> bool {
        // SAFETY: By the type invariant `self.as_raw()` is valid.
        unsafe { bindings::virtio_uses_dma_api(self.as_raw()) }
    }

    /// Returns the device that performs DMA for this virtio device: its transport's parent (for
    /// virtio-pci, the PCI device). Use it to map memory that the device accesses, e.g. imported
    /// dma-bufs.
    pub fn dma_device(&self) -> &device::Device<device::Bound> {
        let dev: &device::Device<device::Bound> = self.as_ref();
        match dev.parent() {
            // SAFETY: A virtio device is registered by its transport driver while that is bound
            // to the parent, and unregistered before the transport unbinds; hence while `self`
            // is bound, so is the parent.
            Some(parent) => unsafe { parent.as_bound() },
            // A virtio device without transport parent does its DMA itself.
            None => dev,
        }
    }
}

impl<'a> Device<device::Core<'a>> {
    /// Creates the device's virtqueues, one per entry of `names`, in order.
    ///
    /// `handler` processes the buffers the device used, from a work item scheduled by the queue
    /// interrupt; it may run as soon as this returns, before probe completes. Returns
    /// [`EBUSY`] if the queues of this device were already created.
    pub fn find_vqs<T: Buffer, H: QueueHandler<T>>(
        &self,
        names: &[&'static CStr],
        handler: H,
    ) -> Result<Arc<Queues<T, H>>> {
        // SAFETY: By the type invariant `self.as_raw()` is valid; probe is serialised.
        if !unsafe { (*self.as_raw()).priv_ }.is_null() {
            return Err(EBUSY);
        }
        virtqueue::create(self, names, handler)
    }

    /// Marks the device ready (`DRIVER_OK`), which enables the use of its virtqueues.
    ///
    /// Call this in probe once the virtqueues exist, before the first buffer is added.
    pub fn ready(&self) {
        // SAFETY: By the type invariant `self.as_raw()` is valid; we are in probe.
        unsafe { bindings::virtio_device_ready(self.as_raw()) }
    }
}

// SAFETY: `virtio::Device` is a transparent wrapper of `struct virtio_device`.
// The offset is guaranteed to point to a valid device field inside `virtio::Device`.
unsafe impl<Ctx: device::DeviceContext> device::AsBusDevice<Ctx> for Device<Ctx> {
    const OFFSET: usize = offset_of!(bindings::virtio_device, dev);
}

// SAFETY: `Device` is a transparent wrapper of a type that doesn't depend on `Device`'s generic
// argument.
kernel::impl_device_context_deref!(unsafe { Device });
kernel::impl_device_context_into_aref!(Device);

// SAFETY: Instances of `Device` are always reference-counted.
unsafe impl crate::sync::aref::AlwaysRefCounted for Device {
    fn inc_ref(&self) {
        // SAFETY: The existence of a shared reference guarantees that the refcount is non-zero.
        unsafe { bindings::get_device(self.as_ref().as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // CAST: `Self` a transparent wrapper of `bindings::virtio_device`.
        let vdev: *mut bindings::virtio_device = obj.cast().as_ptr();

        // SAFETY: By the type invariant of `Self`, `vdev` is a pointer to a valid
        // `struct virtio_device`.
        let dev = unsafe { addr_of_mut!((*vdev).dev) };

        // SAFETY: The safety requirements guarantee that the refcount is non-zero.
        unsafe { bindings::put_device(dev) }
    }
}

impl<Ctx: device::DeviceContext> AsRef<device::Device<Ctx>> for Device<Ctx> {
    fn as_ref(&self) -> &device::Device<Ctx> {
        // SAFETY: By the type invariant of `Self`, `self.as_raw()` is a pointer to a valid
        // `struct virtio_device`.
        let dev = unsafe { addr_of_mut!((*self.as_raw()).dev) };

        // SAFETY: `dev` points to a valid `struct device`.
        unsafe { device::Device::from_raw(dev) }
    }
}

#[cfg(CONFIG_DRM = "y")]
// SAFETY: A virtio device is registered by its transport's driver while that is bound to the
// parent, and unregistered (hence unbound) before the transport's driver unbinds: while the
// virtio device is bound, so is its parent.
unsafe impl crate::drm::device::BoundParent for Device<device::Bound> {}

// SAFETY: A `Device` is always reference-counted and can be released from any thread.
unsafe impl Send for Device {}

// SAFETY: `Device` can be shared among threads because all methods of `Device`
// (i.e. `Device<Normal>) are thread safe.
unsafe impl Sync for Device {}

// SAFETY: Same as `Device<Normal>`: the underlying `struct virtio_device` is the same; `Bound` is
// a zero-sized type-state marker that does not affect thread safety.
unsafe impl Sync for Device<device::Bound> {}

#[kunit_tests(rust_virtio)]
mod tests {
    use super::*;

    #[test]
    fn device_id_matches_any_vendor() {
        let id = DeviceId::new(ids::GPU);
        assert_eq!(id.0.device, 16);
        assert_eq!(id.0.vendor, bindings::VIRTIO_DEV_ANY_ID);
        let id = DeviceId::with_vendor(ids::NET, 0x1af4);
        assert_eq!(id.0.vendor, 0x1af4);
    }
}
