// SPDX-License-Identifier: GPL-2.0 OR MIT

//! KMS connectors.
//!
//! Connectors are probed through the probe helpers (`drm_helper_probe_single_connector_modes()`
//! as `fill_modes`), which call [`DriverConnector::detect`], [`DriverConnector::get_modes`] and
//! [`DriverConnector::mode_valid`] with the device's `mode_config.mutex` held. The driver
//! reports changes of its outputs with [`drm::Registration::hotplug_event`].
//!
//! C headers: [`include/drm/drm_connector.h`](srctree/include/drm/drm_connector.h),
//! [`include/drm/drm_probe_helper.h`](srctree/include/drm/drm_probe_helper.h),
//! [`include/drm/drm_edid.h`](srctree/include/drm/drm_edid.h)

use super::{
    edid::Edid,
    encoder::Encoder,
    mode::{
        DisplayMode,
        ModeStatus, //
    },
    object::{
        ConnectorObject,
        ModeObject, //
    },
    state::{
        ConnectorKind,
        DriverData,
        State, //
    },
    KmsBuilder,
    KmsDriver, //
};
use crate::{
    bindings,
    drm,
    error::to_result,
    prelude::*, //
};
use core::{
    ffi::c_int,
    marker::PhantomData,
    ops::{
        Deref,
        DerefMut, //
    },
    ptr, //
};

/// The type of a connector (`DRM_MODE_CONNECTOR_*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ConnectorType {
    /// Unknown (`DRM_MODE_CONNECTOR_Unknown`).
    Unknown,
    /// VGA (`DRM_MODE_CONNECTOR_VGA`).
    Vga,
    /// DisplayPort (`DRM_MODE_CONNECTOR_DisplayPort`).
    DisplayPort,
    /// HDMI type A (`DRM_MODE_CONNECTOR_HDMIA`).
    HdmiA,
    /// Embedded DisplayPort (`DRM_MODE_CONNECTOR_eDP`).
    Edp,
    /// A virtual output, e.g. a host window (`DRM_MODE_CONNECTOR_VIRTUAL`).
    Virtual,
}

impl ConnectorType {
    fn as_raw(self) -> c_int {
        let raw = match self {
            Self::Unknown => bindings::DRM_MODE_CONNECTOR_Unknown,
            Self::Vga => bindings::DRM_MODE_CONNECTOR_VGA,
            Self::DisplayPort => bindings::DRM_MODE_CONNECTOR_DisplayPort,
            Self::HdmiA => bindings::DRM_MODE_CONNECTOR_HDMIA,
            Self::Edp => bindings::DRM_MODE_CONNECTOR_eDP,
            Self::Virtual => bindings::DRM_MODE_CONNECTOR_VIRTUAL,
        };
        // The values are small constants.
        raw as c_int
    }
}

/// Whether something is connected to a connector (`enum drm_connector_status`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ConnectorStatus {
    /// A sink is connected.
    Connected,
    /// No sink is connected.
    Disconnected,
    /// Cannot tell.
    Unknown,
}

impl ConnectorStatus {
    fn into_raw(self) -> bindings::drm_connector_status {
        match self {
            Self::Connected => bindings::drm_connector_status::connector_status_connected,
            Self::Disconnected => bindings::drm_connector_status::connector_status_disconnected,
            Self::Unknown => bindings::drm_connector_status::connector_status_unknown,
        }
    }
}

/// The driver's part of a connector.
#[vtable]
pub trait DriverConnector: Send + Sync + Sized + 'static {
    /// The driver this connector belongs to.
    type Driver: KmsDriver<Connector = Self>;

    /// The driver's data in each atomic state of the connector ([`ConnectorState`]).
    type State: Clone + Default + Send + Sync + 'static;

    /// Returns whether a sink is connected (`detect`). Without it, connectors are always
    /// connected.
    ///
    /// Called with `mode_config.mutex` held: must not send hotplug events.
    fn detect(connector: &Connector<Self>, force: bool) -> ConnectorStatus {
        let _ = (connector, force);
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// Adds the modes of the connected sink (`get_modes`), with the methods of `probe`.
    ///
    /// Called with `mode_config.mutex` held, after [`DriverConnector::detect`] found the
    /// connector connected. Errors are logged and count as no mode.
    fn get_modes(connector: &Connector<Self>, probe: &mut ConnectorProbe<'_, Self>) -> Result;

    /// Checks whether the sink and the connector can use `mode` (`mode_valid`).
    fn mode_valid(connector: &Connector<Self>, mode: &DisplayMode) -> ModeStatus {
        let _ = (connector, mode);
        ModeStatus::OK
    }
}

/// A connector of a driver whose connector type is `T`.
///
/// # Invariants
///
/// - `self.0` is a connector initialised by `drm_connector_init()` with `Self::FUNCS` and
///   `Self::HELPER_FUNCS`, on a device of driver `T::Driver`, before the device was registered
///   (a static connector).
/// - `self.0` was created by [`Connector::new`] with [`ModeObject::create`]: it is freed when
///   its refcount drops to zero, which for a static connector happens in
///   `drm_mode_config_cleanup()`, when the device is released.
/// - All atomic states of the connector are [`ConnectorState<T>`].
#[repr(transparent)]
pub struct Connector<T: DriverConnector>(ModeObject<ConnectorObject, T>);

// SAFETY: The C part is protected by the DRM locks; the driver part is `Send + Sync`.
unsafe impl<T: DriverConnector> Send for Connector<T> {}

// SAFETY: See `Send`.
unsafe impl<T: DriverConnector> Sync for Connector<T> {}

impl<T: DriverConnector> Connector<T> {
    const FUNCS: bindings::drm_connector_funcs = bindings::drm_connector_funcs {
        detect: if T::HAS_DETECT {
            Some(Self::detect_callback)
        } else {
            None
        },
        fill_modes: Some(bindings::drm_helper_probe_single_connector_modes),
        destroy: Some(ModeObject::<ConnectorObject, T>::destroy_callback),
        atomic_create_state: Some(StateOf::<T>::create_callback),
        atomic_duplicate_state: Some(StateOf::<T>::duplicate_callback),
        atomic_destroy_state: Some(StateOf::<T>::destroy_callback),
        ..pin_init::zeroed()
    };

    const HELPER_FUNCS: bindings::drm_connector_helper_funcs =
        bindings::drm_connector_helper_funcs {
            get_modes: Some(Self::get_modes_callback),
            mode_valid: if T::HAS_MODE_VALID {
                Some(Self::mode_valid_callback)
            } else {
                None
            },
            ..pin_init::zeroed()
        };

    pub(super) fn new<'a>(
        kms: &KmsBuilder<'a, T::Driver>,
        connector_type: ConnectorType,
        edid_property: bool,
        data: impl PinInit<T, Error>,
    ) -> Result<&'a Self> {
        let dev = kms.as_raw();

        let init = |connector: *mut bindings::drm_connector| {
            // SAFETY:
            // - `dev` is a valid, unregistered device with an initialised mode configuration.
            // - `connector` points to a zeroed `struct drm_connector` that lives until its
            //   `destroy`.
            // - `FUNCS` is a promoted constant with a `destroy` callback and the atomic state
            //   callbacks.
            to_result(unsafe {
                bindings::drm_connector_init(dev, connector, &Self::FUNCS, connector_type.as_raw())
            })?;

            // From here on the connector belongs to the device: on failure it is freed with it.
            //
            // SAFETY: `connector` is initialised; nothing uses the helper functions before
            // registration.
            unsafe { (*connector).helper_private = &Self::HELPER_FUNCS };

            // `drm_connector_init()` attached the property already to every type but virtual
            // connectors; attaching it twice would list it twice.
            if edid_property && connector_type == ConnectorType::Virtual {
                // SAFETY: `connector` is initialised and not registered.
                unsafe { bindings::drm_connector_attach_edid_property(connector) };
            }
            Ok(())
        };

        // SAFETY: `init` initialises the connector with `FUNCS`, whose `destroy` is the
        // object's, on `dev`, which `kms` borrows for `'a`.
        let this = unsafe { ModeObject::<ConnectorObject, T>::create(data, init) }?;

        // SAFETY: `Self` is a transparent wrapper of the object.
        // INVARIANT: Initialised above with `FUNCS` and `HELPER_FUNCS`, by `ModeObject::create`.
        Ok(unsafe { &*ptr::from_ref(this).cast::<Self>() })
    }

    /// Lets `encoder` feed this connector (`drm_connector_attach_encoder()`).
    pub(super) fn attach_encoder(
        &self,
        kms: &KmsBuilder<'_, T::Driver>,
        encoder: &Encoder<<T::Driver as KmsDriver>::Encoder>,
    ) -> Result {
        let dev = kms.as_raw();
        // SAFETY: Both objects are initialised; their `dev` never changes.
        if unsafe { (*self.as_raw()).dev != dev || (*encoder.as_raw()).dev != dev } {
            return Err(EINVAL);
        }
        // SAFETY: Both are initialised objects of `dev`, which is not registered; only the
        // builder's thread changes them.
        to_result(unsafe {
            bindings::drm_connector_attach_encoder(self.as_raw(), encoder.as_raw())
        })
    }

    /// Returns the raw `struct drm_connector`.
    pub fn as_raw(&self) -> *mut bindings::drm_connector {
        self.0.as_raw()
    }

    /// Converts a `struct drm_connector` into its [`Connector`].
    ///
    /// # Safety
    ///
    /// `ptr` must be the C part of a live `Connector<T>`, which must stay alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::drm_connector) -> &'a Self {
        // SAFETY: By the safety requirements `ptr` is the C part of a `Connector<T>`, a
        // transparent wrapper of its `ModeObject`.
        unsafe { &*ptr::from_ref(ModeObject::<ConnectorObject, T>::from_raw(ptr)).cast::<Self>() }
    }

    /// Returns the connector's index (`drm_connector_index()`).
    pub fn index(&self) -> u32 {
        // SAFETY: `index` is set at initialisation and never changes.
        unsafe { (*self.as_raw()).index }
    }

    /// Returns the device of the connector.
    pub fn drm_dev(&self) -> &drm::Device<T::Driver> {
        // SAFETY: `dev` is a device of driver `T::Driver` (type invariant), which outlives its
        // static connectors.
        unsafe { drm::Device::from_raw((*self.as_raw()).dev) }
    }

    extern "C" fn detect_callback(
        connector: *mut bindings::drm_connector,
        force: bool,
    ) -> bindings::drm_connector_status {
        // SAFETY: `detect` is only called on our connectors, valid for the call.
        let this = unsafe { Self::from_raw(connector) };
        T::detect(this, force).into_raw()
    }

    extern "C" fn get_modes_callback(connector: *mut bindings::drm_connector) -> c_int {
        // SAFETY: `get_modes` is only called on our connectors, valid for the call.
        let this = unsafe { Self::from_raw(connector) };

        // SAFETY: The probe helpers call `get_modes` with `mode_config.mutex` held, for the
        // duration of the call.
        let mut probe = unsafe { ConnectorProbe::new(this) };

        if let Err(e) = T::get_modes(this, &mut probe) {
            crate::pr_warn!("drm: get_modes failed: {:?}\n", e);
        }
        c_int::try_from(probe.count).unwrap_or(c_int::MAX)
    }

    extern "C" fn mode_valid_callback(
        connector: *mut bindings::drm_connector,
        mode: *const bindings::drm_display_mode,
    ) -> bindings::drm_mode_status {
        // SAFETY: `mode_valid` is only called on our connectors, valid for the call.
        let this = unsafe { Self::from_raw(connector) };
        // SAFETY: `mode` is valid and not changed during the call.
        let mode = unsafe { DisplayMode::from_raw(mode) };
        T::mode_valid(this, mode).into_raw()
    }
}

impl<T: DriverConnector> Deref for Connector<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A connector being probed: adds modes and updates the EDID.
///
/// # Invariants
///
/// The device's `mode_config.mutex` is held for `'a` (the probe helpers hold it around
/// `get_modes`), and `count` is the number of modes added through `self`.
pub struct ConnectorProbe<'a, T: DriverConnector> {
    connector: &'a Connector<T>,
    count: u32,
    _not_send: PhantomData<*mut ()>,
}

impl<'a, T: DriverConnector> ConnectorProbe<'a, T> {
    /// # Safety
    ///
    /// The device's `mode_config.mutex` must be held for `'a`.
    unsafe fn new(connector: &'a Connector<T>) -> Self {
        // INVARIANT: No mode added yet; the lock is held by the safety requirements.
        Self {
            connector,
            count: 0,
            _not_send: PhantomData,
        }
    }

    /// Returns the connector being probed.
    pub fn connector(&self) -> &'a Connector<T> {
        self.connector
    }

    /// Returns the number of modes added so far.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Updates the connector's display info and `EDID` property from `edid`, or resets them if
    /// `None` (`drm_edid_connector_update()`). The EDID is copied; `edid` stays the caller's.
    pub fn update_edid(&mut self, edid: Option<&Edid>) -> Result {
        let raw = edid.map_or(ptr::null(), |e| e.as_raw());
        // SAFETY: The connector is valid and `mode_config.mutex` is held (type invariant);
        // `raw` is NULL or a valid EDID, which the function only reads.
        to_result(unsafe { bindings::drm_edid_connector_update(self.connector.as_raw(), raw) })
    }

    /// Adds the modes of the EDID last set by [`ConnectorProbe::update_edid`]
    /// (`drm_edid_connector_add_modes()`). Returns how many were added.
    pub fn add_edid_modes(&mut self) -> u32 {
        // SAFETY: As in `update_edid()`.
        let n = unsafe { bindings::drm_edid_connector_add_modes(self.connector.as_raw()) };
        self.added(n)
    }

    /// Adds the standard modes up to `max_width` x `max_height` (`drm_add_modes_noedid()`).
    /// Returns how many were added.
    pub fn add_modes_noedid(&mut self, max_width: u32, max_height: u32) -> u32 {
        // SAFETY: As in `update_edid()`.
        let n = unsafe {
            bindings::drm_add_modes_noedid(self.connector.as_raw(), max_width, max_height)
        };
        self.added(n)
    }

    /// Marks the added modes of the given size as preferred (`drm_set_preferred_mode()`).
    pub fn set_preferred_mode(&mut self, width: u32, height: u32) {
        let (Ok(width), Ok(height)) = (c_int::try_from(width), c_int::try_from(height)) else {
            return;
        };
        // SAFETY: As in `update_edid()`.
        unsafe { bindings::drm_set_preferred_mode(self.connector.as_raw(), width, height) };
    }

    /// Adds a CVT mode of the given size and refresh rate (`drm_cvt_mode()`), marked preferred
    /// if `preferred`.
    pub fn add_cvt_mode(
        &mut self,
        width: u32,
        height: u32,
        refresh: u32,
        preferred: bool,
    ) -> Result {
        let width = c_int::try_from(width)?;
        let height = c_int::try_from(height)?;
        let refresh = c_int::try_from(refresh)?;
        let connector = self.connector.as_raw();

        // SAFETY: `connector` is valid, hence so is its device.
        let mode = unsafe {
            bindings::drm_cvt_mode(
                (*connector).dev,
                width,
                height,
                refresh,
                false,
                false,
                false,
            )
        };
        if mode.is_null() {
            return Err(ENOMEM);
        }
        if preferred {
            // SAFETY: `mode` was just allocated and is exclusively ours.
            unsafe { (*mode).type_ |= bindings::DRM_MODE_TYPE_PREFERRED as u8 };
        }
        // SAFETY: `mode` is a valid mode, whose ownership passes to the connector's probed
        // list; `mode_config.mutex` is held.
        unsafe { bindings::drm_mode_probed_add(connector, mode) };
        self.count += 1;
        Ok(())
    }

    fn added(&mut self, n: c_int) -> u32 {
        let n = u32::try_from(n).unwrap_or(0);
        self.count += n;
        n
    }
}

/// An atomic state of a connector of type `T`: the C state and the driver's
/// [`DriverConnector::State`].
///
/// # Invariants
///
/// `self.0` is a state of a `Connector<T>` (see [`State`]).
#[repr(transparent)]
pub struct ConnectorState<T: DriverConnector>(StateOf<T>);

/// The generic state a [`ConnectorState`] wraps.
type StateOf<T> = State<ConnectorKind, DriverData<<T as DriverConnector>::State>>;

impl<T: DriverConnector> ConnectorState<T> {
    /// Returns the raw `struct drm_connector_state`.
    pub fn as_raw(&self) -> *mut bindings::drm_connector_state {
        self.0.as_raw()
    }

    /// # Safety
    ///
    /// `ptr` must be the C part of a `ConnectorState<T>` valid for `'a`, whose driver data is not
    /// mutated during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::drm_connector_state) -> &'a Self {
        // SAFETY: By the safety requirements, which are those of `State::from_raw()`; `Self` is
        // a transparent wrapper.
        unsafe { &*ptr::from_ref(StateOf::<T>::from_raw(ptr)).cast::<Self>() }
    }

    /// Returns the connector of this state.
    pub fn connector(&self) -> &Connector<T> {
        // SAFETY: `connector` is set at creation to the state's `Connector<T>`, which outlives
        // its states (they hold references on it).
        unsafe { Connector::from_raw((*self.as_raw()).connector) }
    }
}

impl<T: DriverConnector> Deref for ConnectorState<T> {
    type Target = T::State;

    fn deref(&self) -> &T::State {
        &self.0.data().0
    }
}

impl<T: DriverConnector> DerefMut for ConnectorState<T> {
    fn deref_mut(&mut self) -> &mut T::State {
        &mut self.0.data_mut().0
    }
}
