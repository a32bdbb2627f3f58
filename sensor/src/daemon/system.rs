//! What the daemon asks of the operating system: signals, systemd
//! notifications, and dropping root.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};

static TERM: AtomicBool = AtomicBool::new(false);
static HUP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    // Only atomic stores: async-signal-safe.
    if sig == libc::SIGHUP {
        HUP.store(true, Ordering::SeqCst);
    } else {
        TERM.store(true, Ordering::SeqCst);
    }
}

/// Installs handlers for SIGTERM, SIGINT (stop) and SIGHUP (reload).
pub fn install_signal_handlers() -> Result<(), String> {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: sigaction is plain old data; zeroed is a valid empty mask and flags.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        // SAFETY: `sa` is initialised, the handler only touches atomics.
        let r = unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) };
        if r != 0 {
            return Err(format!(
                "installing the handler for signal {sig}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// True once SIGTERM or SIGINT arrived.
pub fn stop_requested() -> bool {
    TERM.load(Ordering::SeqCst)
}

/// True (once) when SIGHUP arrived since the last call.
pub fn take_reload_request() -> bool {
    HUP.swap(false, Ordering::SeqCst)
}

/// Sends a state line (`READY=1`, `WATCHDOG=1`, `STATUS=...`) to systemd when
/// started with `Type=notify`; does nothing otherwise.
pub fn sd_notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        if let Ok(addr) = std::os::unix::net::SocketAddr::from_abstract_name(name) {
            let _ = sock.send_to_addr(state.as_bytes(), &addr);
        }
    } else {
        let _ = sock.send_to(state.as_bytes(), std::path::Path::new(&path));
    }
}

/// The systemd watchdog interval, when the unit has `WatchdogSec=`.
pub fn watchdog_interval() -> Option<std::time::Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    Some(std::time::Duration::from_micros(usec))
}

/// Switches to `user` (and `group`, else the user's primary group), dropping
/// supplementary groups. Only when running as root; otherwise a no-op that
/// returns false.
pub fn drop_privileges(user: &str, group: Option<&str>) -> Result<bool, String> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Ok(false);
    }
    let cuser = CString::new(user).map_err(|_| format!("daemon.user {user:?}: NUL byte"))?;
    // SAFETY: valid C string; the returned record is read at once, before any
    // other getpw* call in this process (startup, single caller).
    let pw = unsafe { libc::getpwnam(cuser.as_ptr()) };
    if pw.is_null() {
        return Err(format!(
            "daemon.user {user:?}: no such user (create it, or remove daemon.user)"
        ));
    }
    // SAFETY: pw is non-null and points to libc's static passwd record.
    let (uid, mut gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    if let Some(g) = group {
        let cg = CString::new(g).map_err(|_| format!("daemon.group {g:?}: NUL byte"))?;
        // SAFETY: valid C string; record read at once.
        let gr = unsafe { libc::getgrnam(cg.as_ptr()) };
        if gr.is_null() {
            return Err(format!("daemon.group {g:?}: no such group"));
        }
        // SAFETY: gr is non-null.
        gid = unsafe { (*gr).gr_gid };
    }
    // SAFETY: plain syscalls with checked results; order matters (groups and
    // gid while still root, uid last).
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(format!("setgroups: {}", std::io::Error::last_os_error()));
        }
        if libc::setgid(gid) != 0 {
            return Err(format!(
                "setgid({gid}): {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::setuid(uid) != 0 {
            return Err(format!(
                "setuid({uid}): {}",
                std::io::Error::last_os_error()
            ));
        }
        // Must not be able to get root back.
        if libc::setuid(0) == 0 {
            return Err("privileges were not dropped: setuid(0) still succeeds".into());
        }
    }
    Ok(true)
}
