//! What every zero-copy view of the crate has in common.
//!
//! A view is a struct over its buffer alone (`buffer: T`, `T: AsRef<[u8]>`)
//! with a `check_len` of its own. [`impl_view!`] writes the rest that is
//! the same for every view: `new_unchecked`, `new_checked` (the view's
//! `check_len`, once), `into_inner` and `AsRef<[u8]>`. It is a macro, not a
//! trait, so that these stay inherent methods: callers use
//! `EthFrame::new_checked` without importing anything, and the hot-path
//! views compile to exactly what hand-written methods would.
//!
//! The length checks below are the three shapes the views' `check_len`
//! and the Reprs' `emit` take, so that each states its bounds and nothing
//! else, and every format reports a short or long buffer alike.

use crate::{Result, WireError};

/// `new_unchecked`, `new_checked`, `into_inner` and `AsRef<[u8]>` for the
/// view `$view`, whose `check_len` the caller writes; `$checked` documents
/// `new_checked` (what a buffer must hold).
macro_rules! impl_view {
    ($view:ident, $checked:literal) => {
        impl<T: AsRef<[u8]>> $view<T> {
            /// Wraps a buffer without checking it; accessors may then panic.
            pub const fn new_unchecked(buffer: T) -> $view<T> {
                $view { buffer }
            }

            #[doc = $checked]
            pub fn new_checked(buffer: T) -> $crate::Result<$view<T>> {
                let view = $view::new_unchecked(buffer);
                view.check_len()?;
                Ok(view)
            }

            /// The underlying buffer.
            pub fn into_inner(self) -> T {
                self.buffer
            }
        }

        impl<T: AsRef<[u8]>> AsRef<[u8]> for $view<T> {
            fn as_ref(&self) -> &[u8] {
                self.buffer.as_ref()
            }
        }
    };
}
pub(crate) use impl_view;

/// A buffer of `have` octets holds at least `need`.
#[inline(always)]
pub(crate) fn check_min(have: usize, need: usize) -> Result<()> {
    if have < need {
        return Err(WireError::Truncated { need, have });
    }
    Ok(())
}

/// A message of `have` octets is at least `min` and at most `max` long.
#[inline]
pub(crate) fn check_bounds(have: usize, min: usize, max: usize) -> Result<()> {
    check_min(have, min)?;
    if have > max {
        return Err(WireError::TooLong { len: have, max });
    }
    Ok(())
}

/// A message of `len` octets may be emitted into a buffer of `have`: it
/// is refused when longer than the format allows (`max`) before a short
/// buffer is, since no buffer would do.
#[inline]
pub(crate) fn check_emit(len: usize, max: usize, have: usize) -> Result<()> {
    if len > max {
        return Err(WireError::TooLong { len, max });
    }
    check_min(have, len)
}
