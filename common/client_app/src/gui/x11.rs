//! The X11 urgency hint (taskbar flashing), which FLTK has no API for. libX11 is already linked
//! by FLTK; on other platforms this does nothing.

use fltk::window::Window;

#[cfg(all(unix, not(target_os = "macos")))]
mod imp {
    use std::os::raw::{c_int, c_long, c_uint, c_ulong, c_void};

    use fltk::app;
    use fltk::prelude::*;
    use fltk::window::Window;

    /// Xlib's `XWMHints`.
    #[repr(C)]
    struct XWMHints {
        flags: c_long,
        input: c_int,
        initial_state: c_int,
        icon_pixmap: c_ulong,
        icon_window: c_ulong,
        icon_x: c_int,
        icon_y: c_int,
        icon_mask: c_ulong,
        window_group: c_ulong,
    }

    unsafe extern "C" {
        fn XGetWMHints(d: *mut c_void, w: c_ulong) -> *mut XWMHints;
        fn XAllocWMHints() -> *mut XWMHints;
        fn XSetWMHints(d: *mut c_void, w: c_ulong, h: *mut XWMHints) -> c_int;
        fn XFree(p: *mut c_void) -> c_int;
        fn XFlush(d: *mut c_void) -> c_int;
        fn XGetInputFocus(d: *mut c_void, focus: *mut c_ulong, revert_to: *mut c_int) -> c_int;
        fn XQueryTree(
            d: *mut c_void,
            w: c_ulong,
            root: *mut c_ulong,
            parent: *mut c_ulong,
            children: *mut *mut c_ulong,
            n: *mut c_uint,
        ) -> c_int;
    }

    const X_URGENCY_HINT: c_long = 1 << 8;

    fn xid(win: &Window) -> Option<c_ulong> {
        if !win.shown() {
            return None;
        }
        #[allow(clippy::unnecessary_cast)]
        let xid = win.raw_handle() as c_ulong;
        (xid != 0).then_some(xid)
    }

    /// `Some(true)` when the X input focus is on `win` or inside it; `None` when X cannot say
    /// (focus follows the pointer).
    pub fn has_focus(win: &Window) -> Option<bool> {
        let Some(xid) = xid(win) else {
            return Some(false);
        };
        let d = app::display();
        let (mut focus, mut revert): (c_ulong, c_int) = (0, 0);
        // SAFETY: `d` is FLTK's open display; out-pointers point to locals.
        unsafe { XGetInputFocus(d, &raw mut focus, &raw mut revert) };
        match focus {
            0 => return Some(false), // None
            1 => return None,        // PointerRoot
            _ => {}
        }
        // Walk up from the focus window (a window manager may focus a child or a frame).
        let mut w = focus;
        for _ in 0..8 {
            if w == xid {
                return Some(true);
            }
            let (mut root, mut parent, mut children, mut n): (
                c_ulong,
                c_ulong,
                *mut c_ulong,
                c_uint,
            ) = (0, 0, std::ptr::null_mut(), 0);
            // SAFETY: as above; the children list is allocated by Xlib and freed with XFree.
            let ok = unsafe {
                XQueryTree(
                    d,
                    w,
                    &raw mut root,
                    &raw mut parent,
                    &raw mut children,
                    &raw mut n,
                )
            };
            if !children.is_null() {
                // SAFETY: allocated by XQueryTree.
                unsafe { XFree(children.cast()) };
            }
            if ok == 0 || parent == 0 || parent == root {
                break;
            }
            w = parent;
        }
        Some(false)
    }

    pub fn set_urgent(win: &Window, on: bool) {
        let Some(xid) = xid(win) else { return };
        let d = app::display();
        // SAFETY: `d` is FLTK's open display and `xid` a window it created and still shows;
        // the hints structure is allocated by Xlib and freed with XFree.
        unsafe {
            let mut h = XGetWMHints(d, xid);
            if h.is_null() {
                h = XAllocWMHints();
                if h.is_null() {
                    return;
                }
            }
            if on {
                (*h).flags |= X_URGENCY_HINT;
            } else {
                (*h).flags &= !X_URGENCY_HINT;
            }
            XSetWMHints(d, xid, h);
            XFree(h.cast());
            XFlush(d);
        }
    }
}

/// Whether `win` has the keyboard focus, if the window system can say.
pub fn has_focus(win: &Window) -> Option<bool> {
    #[cfg(all(unix, not(target_os = "macos")))]
    return imp::has_focus(win);
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        let _ = win;
        None
    }
}

/// Set or clear the urgency hint of a shown window.
pub fn set_urgent(win: &Window, on: bool) {
    #[cfg(all(unix, not(target_os = "macos")))]
    imp::set_urgent(win, on);
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    let _ = (win, on);
}
