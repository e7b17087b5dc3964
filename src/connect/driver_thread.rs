//! The thread a login (and other driver code that may panic) runs on: its panics are caught,
//! kept quiet and reported as one error line, never as a silent server.

pub(super) const CONNECT_THREAD: &str = "connect";

/// Run driver code that may panic (its PEM parser does on a bad key) on a thread whose panics
/// are caught and kept quiet, as the login's are; the panic's message on failure.
pub(super) fn catch_driver_panic<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    quiet_connect_panics();
    std::thread::Builder::new()
        .name(CONNECT_THREAD.into())
        .spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                .map_err(|payload| panic_text(payload.as_ref()))
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?
        .join()
        .map_err(|payload| panic_text(payload.as_ref()))?
}

/// A panic on the connect thread is caught and reported as one error line: keep the default
/// hook from printing it a second time (with a backtrace hint) there. Other threads are untouched.
pub(super) fn quiet_connect_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() != Some(CONNECT_THREAD) {
                default(info);
            }
        }));
    });
}

/// The message of a caught panic.
pub(super) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}
