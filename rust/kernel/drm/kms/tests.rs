// SPDX-License-Identifier: GPL-2.0 OR MIT

//! KUnit tests of the KMS abstractions, on the device of a test driver parented to a faux device.
//!
//! The tests drive atomic commits the way in-kernel clients do (`drm_atomic_helper_set_config()`,
//! `drm_atomic_helper_update_plane()`, `drm_atomic_helper_shutdown()`), with framebuffers of dumb
//! buffers created by a DRM client, and count what the abstractions hand to the driver: atomic
//! states created and dropped, framebuffer preparations and their clean-ups.
//!
//! Devices that get commits are registered (with [`drm::Registration::new_devres`] on the faux
//! device), as the device context of the commit callbacks promises; devices the tests only build
//! are not.

use crate::prelude::*;

#[kunit_tests(rust_drm_kms)]
mod atomic_states {
    use crate::{
        bindings,
        device::DeviceContext,
        devres::Devres,
        drm::{
            self,
            gem::shmem,
            kms::{
                format,
                AtomicCheck,
                AtomicCommit,
                ConnectorProbe,
                ConnectorType,
                DriverConnector,
                DriverCrtc,
                DriverEncoder,
                DriverPlane,
                EncoderType,
                Framebuffer,
                KmsBuilder,
                KmsDriver,
                ModeConfigInfo,
                Plane,
                PlaneConfig,
                PlaneState,
                PlaneType,
                VblankSupport, //
            },
        },
        error::to_result,
        faux,
        prelude::*,
        sync::{
            aref::ARef,
            atomic::{
                Atomic,
                Relaxed, //
            },
        },
    };
    use core::ptr::null_mut;

    /// Like `assert_eq!`, for the helpers of the tests (which KUnit's `assert_eq!` does not
    /// reach): reports a difference and fails the test through its result, without panicking.
    macro_rules! expect_eq {
        ($left:expr, $right:expr $(,)?) => {{
            let (left, right) = (&$left, &$right);
            if left != right {
                pr_err!(
                    "{}:{}: {} is {:?}, expected {:?}\n",
                    file!(),
                    line!(),
                    stringify!($left),
                    left,
                    right
                );
                return Err(EINVAL);
            }
        }};
    }

    // What the test driver saw. KUnit runs the cases of a suite one after the other; each case
    // starts with counters at zero.
    const CRTC: usize = 0;
    const PLANE: usize = 1;
    const CONNECTOR: usize = 2;
    static LIVE_STATES: [Atomic<i32>; 3] = [Atomic::new(0), Atomic::new(0), Atomic::new(0)];
    static LIVE_PREPARED: Atomic<i32> = Atomic::new(0);
    static PREPARES: Atomic<i32> = Atomic::new(0);
    static CLEANUPS: Atomic<i32> = Atomic::new(0);
    static UPDATES: Atomic<i32> = Atomic::new(0);
    /// Makes the cursor plane's `prepare_fb` fail.
    static FAIL_CURSOR_PREPARE: Atomic<bool> = Atomic::new(false);
    /// Makes the cursor plane's `atomic_check` fail.
    static FAIL_CURSOR_CHECK: Atomic<bool> = Atomic::new(false);

    fn reset_counters() {
        for live in &LIVE_STATES {
            live.store(0, Relaxed);
        }
        for counter in [&LIVE_PREPARED, &PREPARES, &CLEANUPS, &UPDATES] {
            counter.store(0, Relaxed);
        }
        FAIL_CURSOR_PREPARE.store(false, Relaxed);
        FAIL_CURSOR_CHECK.store(false, Relaxed);
    }

    /// A driver state that counts its live instances of kind `K`.
    struct Counted<const K: usize>;

    impl<const K: usize> Default for Counted<K> {
        fn default() -> Self {
            LIVE_STATES[K].add(1, Relaxed);
            Self
        }
    }

    impl<const K: usize> Clone for Counted<K> {
        fn clone(&self) -> Self {
            LIVE_STATES[K].add(1, Relaxed);
            Self
        }
    }

    impl<const K: usize> Drop for Counted<K> {
        fn drop(&mut self) {
            LIVE_STATES[K].add(-1, Relaxed);
        }
    }

    /// What `prepare_fb` hands over to `cleanup_fb`.
    struct Prepared;

    impl Prepared {
        fn new() -> Self {
            LIVE_PREPARED.add(1, Relaxed);
            Self
        }
    }

    impl Drop for Prepared {
        fn drop(&mut self) {
            LIVE_PREPARED.add(-1, Relaxed);
        }
    }

    struct TestDriver;

    #[pin_data]
    struct TestData {}

    struct TestFile;

    impl drm::file::DriverFile for TestFile {
        type Driver = TestDriver;

        fn open(_dev: &drm::Device<TestDriver>) -> Result<Pin<KBox<Self>>> {
            Ok(KBox::new(Self, GFP_KERNEL)?.into())
        }
    }

    #[pin_data]
    struct TestObject {}

    impl drm::gem::DriverObject for TestObject {
        type Driver = TestDriver;
        type Args = ();

        fn new(
            _dev: &drm::Device<TestDriver>,
            _size: usize,
            _args: (),
        ) -> impl PinInit<Self, Error> {
            try_pin_init!(Self {}? Error)
        }

        // Dumb buffers come from the shmem helpers.
        fn helper_args(_dev: &drm::Device<TestDriver>, _size: usize) -> Result {
            Ok(())
        }
    }

    #[vtable]
    impl drm::Driver for TestDriver {
        type Data = TestData;
        type RegistrationData<'a> = ();
        type Object = shmem::Object<TestObject>;
        type File = TestFile;
        type ParentDevice<Ctx: DeviceContext> = faux::Device<Ctx>;

        const INFO: drm::DriverInfo = drm::DriverInfo {
            major: 0,
            minor: 0,
            patchlevel: 0,
            name: c"rust_drm_kms_test",
            desc: c"KUnit test driver of the Rust KMS abstractions",
        };
        const IOCTLS: &'static [drm::ioctl::DrmIoctlDescriptor] = &[];
        const FEAT_KMS: bool = true;
    }

    impl KmsDriver for TestDriver {
        type Crtc = TestCrtc;
        type Plane = TestPlane;
        type Encoder = TestEncoder;
        type Connector = TestConnector;

        // Flip events are sent at the CRTC's flush: commits do not wait for a vblank.
        const VBLANK: VblankSupport = VblankSupport::None;
    }

    #[pin_data]
    struct TestCrtc {}

    #[vtable]
    impl DriverCrtc for TestCrtc {
        type Driver = TestDriver;
        type State = Counted<CRTC>;
    }

    #[pin_data]
    struct TestPlane {
        cursor: bool,
    }

    #[vtable]
    impl DriverPlane for TestPlane {
        type Driver = TestDriver;
        type State = Counted<PLANE>;
        type FbPrepared = Prepared;

        fn atomic_check(
            plane: &Plane<Self>,
            new: &mut PlaneState<Self>,
            _old: &PlaneState<Self>,
            commit: &AtomicCheck<'_, TestDriver>,
        ) -> Result {
            if plane.cursor && FAIL_CURSOR_CHECK.load(Relaxed) {
                return Err(ERANGE);
            }
            new.check_on_crtc(commit)
        }

        fn prepare_fb(
            plane: &Plane<Self>,
            _new: &PlaneState<Self>,
            _fb: &Framebuffer<TestDriver>,
            _dev: &drm::Device<TestDriver, drm::Ioctl>,
        ) -> Result<Prepared> {
            PREPARES.add(1, Relaxed);
            if plane.cursor && FAIL_CURSOR_PREPARE.load(Relaxed) {
                return Err(ENXIO);
            }
            Ok(Prepared::new())
        }

        fn cleanup_fb(
            _plane: &Plane<Self>,
            _state: &PlaneState<Self>,
            prepared: Prepared,
            _dev: &drm::Device<TestDriver, drm::Ioctl>,
        ) {
            CLEANUPS.add(1, Relaxed);
            drop(prepared);
        }

        fn atomic_update(
            _plane: &Plane<Self>,
            _new: &PlaneState<Self>,
            _old: &PlaneState<Self>,
            _commit: &AtomicCommit<'_, TestDriver>,
        ) {
            UPDATES.add(1, Relaxed);
        }

        fn atomic_disable(
            _plane: &Plane<Self>,
            _new: &PlaneState<Self>,
            _old: &PlaneState<Self>,
            _commit: &AtomicCommit<'_, TestDriver>,
        ) {
        }
    }

    #[pin_data]
    struct TestEncoder {}

    impl DriverEncoder for TestEncoder {
        type Driver = TestDriver;
    }

    #[pin_data]
    struct TestConnector {}

    #[vtable]
    impl DriverConnector for TestConnector {
        type Driver = TestDriver;
        type State = Counted<CONNECTOR>;

        fn get_modes(
            _connector: &drm::kms::Connector<Self>,
            probe: &mut ConnectorProbe<'_, Self>,
        ) -> Result {
            probe.add_modes_noedid(1024, 768);
            Ok(())
        }
    }

    /// The C objects of the test device's one output.
    struct Output {
        crtc: *mut bindings::drm_crtc,
        cursor: *mut bindings::drm_plane,
        connector: *mut bindings::drm_connector,
    }

    const MODE_CONFIG: ModeConfigInfo = ModeConfigInfo {
        min_size: (32, 32),
        max_size: (4096, 4096),
        cursor_size: None,
        preferred_depth: 0,
        prefer_shadow: false,
        prefer_host_byte_order: false,
        fb_modifiers_not_supported: true,
    };

    /// Adds a primary (XRGB8888) or cursor (ARGB8888) plane for the CRTCs in `possible_crtcs`.
    fn add_plane<'a>(
        kms: &KmsBuilder<'a, TestDriver>,
        cursor: bool,
        possible_crtcs: u32,
        modifiers: Option<&[u64]>,
    ) -> Result<&'a Plane<TestPlane>> {
        let (plane_type, format) = if cursor {
            (PlaneType::Cursor, format::ARGB8888)
        } else {
            (PlaneType::Primary, format::XRGB8888)
        };
        kms.add_plane(
            &PlaneConfig {
                plane_type,
                possible_crtcs,
                formats: &[format],
                modifiers,
                damage_clips: false,
                blend_modes: None,
                name: None,
            },
            try_pin_init!(TestPlane { cursor }),
        )
    }

    fn build_output(drm: &drm::UnregisteredDevice<TestDriver>) -> Result<Output> {
        let kms = KmsBuilder::new(drm, &MODE_CONFIG)?;
        let primary = add_plane(&kms, false, 1, None)?;
        let cursor = add_plane(&kms, true, 1, None)?;
        let crtc = kms.add_crtc(primary, Some(cursor), None, try_pin_init!(TestCrtc {}))?;
        let encoder = kms.add_encoder(EncoderType::Virtual, 1, try_pin_init!(TestEncoder {}))?;
        let connector = kms.add_connector(
            ConnectorType::Virtual,
            false,
            try_pin_init!(TestConnector {}),
        )?;
        kms.attach_encoder(connector, encoder)?;
        let output = Output {
            crtc: crtc.as_raw(),
            cursor: cursor.as_raw(),
            connector: connector.as_raw(),
        };
        kms.finish()?;
        Ok(output)
    }

    /// Runs `f` with every modeset lock of `dev` held, as ioctls do, backing off on deadlocks.
    fn with_modeset_locks(
        dev: *mut bindings::drm_device,
        mut f: impl FnMut(*mut bindings::drm_modeset_acquire_ctx) -> c_int,
    ) -> Result {
        let mut ctx: bindings::drm_modeset_acquire_ctx = pin_init::zeroed();
        let ctx = &raw mut ctx;
        // SAFETY: `ctx` is a local that stays in place until `drm_modeset_acquire_fini()`.
        unsafe { bindings::drm_modeset_acquire_init(ctx, 0) };
        let ret = loop {
            // SAFETY: `dev` is a valid device with an initialised mode configuration; `ctx` is
            // initialised.
            let mut ret = unsafe { bindings::drm_modeset_lock_all_ctx(dev, ctx) };
            if ret == 0 {
                ret = f(ctx);
            }
            if ret != -(bindings::EDEADLK as c_int) {
                break ret;
            }
            // SAFETY: `ctx` is initialised and has just seen a deadlock.
            unsafe { bindings::drm_modeset_backoff(ctx) };
        };
        // SAFETY: `ctx` is initialised; the locks it holds are dropped before it is finished.
        unsafe {
            bindings::drm_modeset_drop_locks(ctx);
            bindings::drm_modeset_acquire_fini(ctx);
        }
        to_result(ret)
    }

    /// Sets `mode` (or switches the output off, with no mode) with `fb` on the primary plane.
    fn set_config(
        dev: *mut bindings::drm_device,
        output: &Output,
        fb: *mut bindings::drm_framebuffer,
        mode: *mut bindings::drm_display_mode,
    ) -> Result {
        let mut connectors = [output.connector];
        let mut set = bindings::drm_mode_set {
            fb,
            crtc: output.crtc,
            mode,
            connectors: if mode.is_null() {
                null_mut()
            } else {
                connectors.as_mut_ptr()
            },
            num_connectors: usize::from(!mode.is_null()),
            ..pin_init::zeroed()
        };
        with_modeset_locks(dev, |ctx| {
            // SAFETY: `set` describes objects of `dev`, whose locks `ctx` holds.
            unsafe { bindings::drm_atomic_helper_set_config(&mut set, ctx) }
        })
    }

    /// Shows `fb` in the cursor plane, at the top left corner.
    fn set_cursor(
        dev: *mut bindings::drm_device,
        output: &Output,
        fb: *mut bindings::drm_framebuffer,
    ) -> Result {
        with_modeset_locks(dev, |ctx| {
            // SAFETY: The plane, CRTC and framebuffer belong to `dev`, whose locks `ctx` holds.
            unsafe {
                bindings::drm_atomic_helper_update_plane(
                    output.cursor,
                    output.crtc,
                    fb,
                    0,
                    0,
                    64,
                    64,
                    0,
                    0,
                    64 << 16,
                    64 << 16,
                    ctx,
                )
            }
        })
    }

    /// A DRM client of the test device, which owns dumb buffers with framebuffers.
    struct Client {
        client: KBox<bindings::drm_client_dev>,
        buffers: KVec<*mut bindings::drm_client_buffer>,
    }

    impl Client {
        fn new(dev: *mut bindings::drm_device) -> Result<Self> {
            let mut client = KBox::new(pin_init::zeroed(), GFP_KERNEL)?;
            // SAFETY: `client` is zeroed and stays in its box until `drm_client_release()`;
            // `dev` is a valid modesetting device with dumb buffers.
            to_result(unsafe {
                bindings::drm_client_init(dev, &mut *client, c"kunit".as_char_ptr(), null_mut())
            })?;
            Ok(Self {
                client,
                buffers: KVec::new(),
            })
        }

        /// Creates a `width` x `height` dumb buffer of `format` and returns its framebuffer.
        fn framebuffer(
            &mut self,
            width: u32,
            height: u32,
            format: u32,
        ) -> Result<*mut bindings::drm_framebuffer> {
            self.buffers.reserve(1, GFP_KERNEL)?;
            // SAFETY: `self.client` was initialised by `drm_client_init()`.
            let buffer = unsafe {
                bindings::drm_client_buffer_create_dumb(&mut *self.client, width, height, format)
            };
            let buffer = crate::error::from_err_ptr(buffer)?;
            self.buffers.push(buffer, GFP_KERNEL)?;
            // SAFETY: `buffer` is a valid client buffer.
            Ok(unsafe { (*buffer).fb })
        }
    }

    impl Drop for Client {
        fn drop(&mut self) {
            for &buffer in self.buffers.iter() {
                // SAFETY: `buffer` came from `drm_client_buffer_create_dumb()` and is deleted
                // once.
                unsafe { bindings::drm_client_buffer_delete(buffer) };
            }
            // SAFETY: The client was initialised by `drm_client_init()`.
            unsafe { bindings::drm_client_release(&mut *self.client) };
        }
    }

    /// A display mode of `dev`, freed on drop.
    struct Mode(*mut bindings::drm_device, *mut bindings::drm_display_mode);

    impl Mode {
        fn cvt(dev: *mut bindings::drm_device, width: c_int, height: c_int) -> Result<Self> {
            // SAFETY: `dev` is a valid device.
            let mode =
                unsafe { bindings::drm_cvt_mode(dev, width, height, 60, false, false, false) };
            if mode.is_null() {
                return Err(ENOMEM);
            }
            Ok(Self(dev, mode))
        }
    }

    impl Drop for Mode {
        fn drop(&mut self) {
            // SAFETY: The mode was allocated by `drm_cvt_mode()` for this device.
            unsafe { bindings::drm_mode_destroy(self.0, self.1) };
        }
    }

    fn live(kind: usize) -> i32 {
        LIVE_STATES[kind].load(Relaxed)
    }

    /// The test driver's device with its output and a client. Dropping it switches the output
    /// off first, so that no state keeps a framebuffer (and its device) alive, whatever a test
    /// left behind.
    struct TestDevice {
        client: Client,
        output: Output,
        reg: Devres<drm::Registration<'static, TestDriver>>,
        drm: ARef<drm::Device<TestDriver>>,
    }

    impl TestDevice {
        fn new(parent: &faux::Device<crate::device::Bound>) -> Result<Self> {
            let drm =
                drm::UnregisteredDevice::<TestDriver>::new(parent, try_pin_init!(TestData {}))?;
            let output = build_output(&drm)?;
            let drm_ref: ARef<drm::Device<TestDriver>> = (&*drm).into();
            let reg = drm::Registration::new_devres(parent.as_ref(), drm, (), 0)?;
            let client = Client::new(drm_ref.as_raw())?;
            Ok(Self {
                client,
                output,
                reg,
                drm: drm_ref,
            })
        }

        fn dev(&self) -> *mut bindings::drm_device {
            self.drm.as_raw()
        }

        fn shutdown(&self) {
            // SAFETY: The device is valid and its mode configuration initialised.
            unsafe { bindings::drm_atomic_helper_shutdown(self.dev()) };
        }
    }

    impl Drop for TestDevice {
        fn drop(&mut self) {
            self.shutdown();
        }
    }

    /// Modesets, a cursor, a commit whose second preparation fails, and a shutdown: every
    /// preparation is cleaned up exactly once, every duplicated state is destroyed.
    fn states_and_preparations(parent: &faux::Device<crate::device::Bound>) -> Result {
        let mut test = TestDevice::new(parent)?;
        let dev = test.dev();

        // The initial states: one per object.
        expect_eq!((live(CRTC), live(PLANE), live(CONNECTOR)), (1, 2, 1));

        let small = test.client.framebuffer(640, 480, format::XRGB8888)?;
        let large = test.client.framebuffer(800, 600, format::XRGB8888)?;
        let cursor = test.client.framebuffer(64, 64, format::ARGB8888)?;
        let vga = Mode::cvt(dev, 640, 480)?;
        let svga = Mode::cvt(dev, 800, 600)?;

        // A modeset prepares the primary plane's framebuffer.
        set_config(dev, &test.output, small, vga.1)?;
        expect_eq!(PREPARES.load(Relaxed), 1);
        expect_eq!(LIVE_PREPARED.load(Relaxed), 1);
        expect_eq!(UPDATES.load(Relaxed), 1);
        expect_eq!((live(CRTC), live(PLANE), live(CONNECTOR)), (1, 2, 1));

        // The cursor's commit prepares only the cursor.
        set_cursor(dev, &test.output, cursor)?;
        expect_eq!(PREPARES.load(Relaxed), 2);
        expect_eq!(LIVE_PREPARED.load(Relaxed), 2);
        expect_eq!(CLEANUPS.load(Relaxed), 0);

        // A modeset takes in both planes; the primary is prepared, the cursor fails. The
        // primary's new preparation is cleaned up, the current ones stay, so do the states.
        FAIL_CURSOR_PREPARE.store(true, Relaxed);
        let failed = set_config(dev, &test.output, large, svga.1);
        FAIL_CURSOR_PREPARE.store(false, Relaxed);
        expect_eq!(failed, Err(ENXIO));
        expect_eq!(PREPARES.load(Relaxed), 4);
        expect_eq!(CLEANUPS.load(Relaxed), 1);
        expect_eq!(LIVE_PREPARED.load(Relaxed), 2);
        expect_eq!((live(CRTC), live(PLANE), live(CONNECTOR)), (1, 2, 1));

        // The same modeset, now working: both planes prepared anew, the old ones cleaned up.
        set_config(dev, &test.output, large, svga.1)?;
        expect_eq!(PREPARES.load(Relaxed), 6);
        expect_eq!(CLEANUPS.load(Relaxed), 3);
        expect_eq!(LIVE_PREPARED.load(Relaxed), 2);
        expect_eq!((live(CRTC), live(PLANE), live(CONNECTOR)), (1, 2, 1));

        // Switching everything off (as on driver removal) releases every preparation.
        test.shutdown();
        expect_eq!(LIVE_PREPARED.load(Relaxed), 0);
        expect_eq!(CLEANUPS.load(Relaxed), PREPARES.load(Relaxed) - 1);
        expect_eq!((live(CRTC), live(PLANE), live(CONNECTOR)), (1, 2, 1));

        // The device goes, with its current states (the modes first: they name the device).
        drop((vga, svga));
        drop(test);
        expect_eq!((live(CRTC), live(PLANE), live(CONNECTOR)), (0, 0, 0));
        Ok(())
    }

    /// An atomic check that fails, the core's (a primary plane smaller than its CRTC's mode) or
    /// the driver's, leaves no state and no preparation behind.
    fn failing_check(parent: &faux::Device<crate::device::Bound>) -> Result {
        let mut test = TestDevice::new(parent)?;
        let dev = test.dev();
        let small = test.client.framebuffer(640, 480, format::XRGB8888)?;
        let svga = Mode::cvt(dev, 800, 600)?;

        expect_eq!(set_config(dev, &test.output, small, svga.1), Err(ENOSPC));
        expect_eq!(PREPARES.load(Relaxed), 0);
        expect_eq!(LIVE_PREPARED.load(Relaxed), 0);
        expect_eq!(UPDATES.load(Relaxed), 0);
        expect_eq!((live(CRTC), live(PLANE), live(CONNECTOR)), (1, 2, 1));

        // A mode that the buffer covers works.
        let vga = Mode::cvt(dev, 640, 480)?;
        set_config(dev, &test.output, small, vga.1)?;
        expect_eq!(LIVE_PREPARED.load(Relaxed), 1);
        expect_eq!(UPDATES.load(Relaxed), 1);

        // The driver's own check refuses the cursor: its error, and nothing prepared or left.
        let cursor = test.client.framebuffer(64, 64, format::ARGB8888)?;
        FAIL_CURSOR_CHECK.store(true, Relaxed);
        let refused = set_cursor(dev, &test.output, cursor);
        FAIL_CURSOR_CHECK.store(false, Relaxed);
        expect_eq!(refused, Err(ERANGE));
        expect_eq!(PREPARES.load(Relaxed), 1);
        expect_eq!(LIVE_PREPARED.load(Relaxed), 1);
        expect_eq!((live(CRTC), live(PLANE), live(CONNECTOR)), (1, 2, 1));

        // Dropping the device switches the output off and destroys every state (the modes go
        // first: they name the device).
        drop((vga, svga));
        drop(test);
        expect_eq!(LIVE_PREPARED.load(Relaxed), 0);
        expect_eq!((live(CRTC), live(PLANE), live(CONNECTOR)), (0, 0, 0));
        Ok(())
    }

    /// Builds on a new device what `build` adds, and expects `finish()` to refuse it.
    fn finish_refuses(
        parent: &faux::Device<crate::device::Bound>,
        what: &str,
        build: impl for<'a> FnOnce(&KmsBuilder<'a, TestDriver>) -> Result,
    ) -> Result {
        let drm = drm::UnregisteredDevice::<TestDriver>::new(parent, try_pin_init!(TestData {}))?;
        let kms = KmsBuilder::new(&drm, &MODE_CONFIG)?;
        build(&kms)?;
        let finished = kms.finish();
        if finished != Err(EINVAL) {
            pr_err!("finish() with {}: {:?}, expected EINVAL\n", what, finished);
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Adds a CRTC fed by a new primary plane (for the CRTCs in `possible_crtcs`) and `cursor`.
    fn add_crtc<'a>(
        kms: &KmsBuilder<'a, TestDriver>,
        possible_crtcs: u32,
        cursor: Option<&'a Plane<TestPlane>>,
    ) -> Result {
        let primary = add_plane(kms, false, possible_crtcs, None)?;
        kms.add_crtc(primary, cursor, None, try_pin_init!(TestCrtc {}))?;
        Ok(())
    }

    fn add_encoder(kms: &KmsBuilder<'_, TestDriver>, possible_crtcs: u32) -> Result {
        kms.add_encoder(
            EncoderType::Virtual,
            possible_crtcs,
            try_pin_init!(TestEncoder {}),
        )?;
        Ok(())
    }

    /// `finish()` refuses what registration would warn about, and a builder that failed to add
    /// an object.
    fn broken_pipelines(parent: &faux::Device<crate::device::Bound>) -> Result {
        finish_refuses(parent, "an encoder for a missing CRTC", |kms| {
            add_crtc(kms, 1, None)?;
            add_encoder(kms, 0b11)
        })?;
        finish_refuses(parent, "a cursor plane that cannot feed its CRTC", |kms| {
            let cursor = add_plane(kms, true, 0b10, None)?;
            add_crtc(kms, 1, Some(cursor))?;
            add_encoder(kms, 1)
        })?;
        finish_refuses(parent, "one primary plane for two CRTCs", |kms| {
            let primary = add_plane(kms, false, 0b11, None)?;
            add_plane(kms, false, 0b11, None)?;
            kms.add_crtc(primary, None, None, try_pin_init!(TestCrtc {}))?;
            kms.add_crtc(primary, None, None, try_pin_init!(TestCrtc {}))?;
            add_encoder(kms, 0b11)
        })?;
        finish_refuses(parent, "a refused plane (modifiers)", |kms| {
            let linear = [format::FORMAT_MOD_LINEAR];
            if add_plane(kms, true, 1, Some(&linear)).err() != Some(EINVAL) {
                pr_err!("a device without modifiers took a plane with modifiers\n");
                return Err(EINVAL);
            }
            add_crtc(kms, 1, None)?;
            add_encoder(kms, 1)
        })?;
        finish_refuses(parent, "a connector without encoder", |kms| {
            add_crtc(kms, 1, None)?;
            add_encoder(kms, 1)?;
            kms.add_connector(
                ConnectorType::Virtual,
                false,
                try_pin_init!(TestConnector {}),
            )?;
            Ok(())
        })?;

        // The same pipeline without the mistakes is fine.
        let drm = drm::UnregisteredDevice::<TestDriver>::new(parent, try_pin_init!(TestData {}))?;
        build_output(&drm)?;
        drop(drm);
        expect_eq!((live(CRTC), live(PLANE), live(CONNECTOR)), (0, 0, 0));
        Ok(())
    }

    /// Creates a dumb buffer through the driver's `dumb_create` (the memory manager's, in Rust),
    /// as `DRM_IOCTL_MODE_CREATE_DUMB` does after its own checks, and deletes its handle again.
    /// Returns the pitch and size.
    fn create_dumb(test: &TestDevice, width: u32, height: u32, bpp: u32) -> Result<(u32, u64)> {
        let dev = test.dev();
        let file = test.client.client.file;
        let mut args = bindings::drm_mode_create_dumb {
            width,
            height,
            bpp,
            ..pin_init::zeroed()
        };
        // SAFETY: `dev` is a valid device; its driver's vtable is static.
        let dumb_create = unsafe { (*(*dev).driver).dumb_create }.ok_or(ENOSYS)?;
        // SAFETY: `file` is the client's open file on `dev`; `args` is valid for the call.
        to_result(unsafe { dumb_create(file, dev, &mut args) })?;
        // SAFETY: `args.handle` is a handle of `file`, which nothing else uses.
        to_result(unsafe { bindings::drm_gem_handle_delete(file, args.handle) })?;
        Ok((args.pitch, args.size))
    }

    /// Dumb buffers get the size `drm_mode_size_dumb()` computes; sizes that overflow, and
    /// empty ones, are refused.
    fn dumb_sizes(parent: &faux::Device<crate::device::Bound>) -> Result {
        let test = TestDevice::new(parent)?;
        let page = crate::page::PAGE_SIZE as u64;
        expect_eq!(create_dumb(&test, 640, 480, 32), Ok((2560, 2560 * 480)));
        expect_eq!(create_dumb(&test, 1, 1, 32), Ok((4, page)));
        expect_eq!(create_dumb(&test, 100, 3, 32), Ok((400, page)));
        expect_eq!(create_dumb(&test, 0, 480, 32), Err(EINVAL));
        expect_eq!(create_dumb(&test, 640, 0, 32), Err(EINVAL));
        // A pitch beyond 32 bits, a size beyond 32 bits.
        expect_eq!(create_dumb(&test, 0x4000_0000, 1, 32), Err(EINVAL));
        expect_eq!(create_dumb(&test, 0x1_0000, 0x1_0000, 32), Err(EINVAL));
        Ok(())
    }

    /// Suspend switches the output off and keeps its state, resume brings it back; a second
    /// suspend and a resume with nothing saved are refused.
    fn suspend_resume(parent: &faux::Device<crate::device::Bound>) -> Result {
        let mut test = TestDevice::new(parent)?;
        let dev = test.dev();
        let fb = test.client.framebuffer(640, 480, format::XRGB8888)?;
        let vga = Mode::cvt(dev, 640, 480)?;
        set_config(dev, &test.output, fb, vga.1)?;
        expect_eq!(LIVE_PREPARED.load(Relaxed), 1);

        let reg = test.reg.access(parent.as_ref())?;
        expect_eq!(reg.resume(), Err(EINVAL));
        expect_eq!(reg.suspend(), Ok(()));
        // The outputs are off: no framebuffer is prepared.
        expect_eq!(LIVE_PREPARED.load(Relaxed), 0);
        expect_eq!(reg.suspend(), Err(EBUSY));
        expect_eq!(reg.resume(), Ok(()));
        expect_eq!(LIVE_PREPARED.load(Relaxed), 1);
        expect_eq!(reg.resume(), Err(EINVAL));
        Ok(())
    }

    fn on_test_device(
        name: &CStr,
        test: impl FnOnce(&faux::Device<crate::device::Bound>) -> Result,
    ) -> Result {
        reset_counters();
        let parent = faux::Registration::new(name, None)?;
        test(parent.as_ref())
    }

    #[test]
    fn plane_preparations_pair_with_cleanups() -> Result {
        on_test_device(c"rust_drm_kms_test_pairing", states_and_preparations)
    }

    #[test]
    fn finish_refuses_broken_pipelines() -> Result {
        on_test_device(c"rust_drm_kms_test_finish", broken_pipelines)
    }

    #[test]
    fn dumb_buffer_sizes_are_checked() -> Result {
        on_test_device(c"rust_drm_kms_test_dumb", dumb_sizes)
    }

    #[test]
    fn failing_atomic_check_leaves_nothing() -> Result {
        on_test_device(c"rust_drm_kms_test_check", failing_check)
    }

    #[test]
    fn suspend_and_resume_pair() -> Result {
        on_test_device(c"rust_drm_kms_test_suspend", suspend_resume)
    }
}
