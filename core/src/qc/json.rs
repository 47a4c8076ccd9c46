//! A JSON layout for `report.json`: objects indented one key per line, as
//! `serde_json`'s pretty printer does, but arrays of scalars (loudness
//! timelines, channel lists) on one line, so a two-hour reel's timelines do
//! not become a million lines.

use serde_json::ser::Formatter;
use std::io::{self, Write};

#[derive(Debug)]
enum Frame {
    /// An array: the element about to be written (`Some(first)`), whether
    /// every element so far was a scalar, whether it has elements.
    Array {
        pending: Option<bool>,
        compact: bool,
        any: bool,
    },
    /// An object: whether it has keys.
    Object { any: bool },
}

/// The formatter; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct ReportFormatter {
    stack: Vec<Frame>,
}

impl ReportFormatter {
    fn indent<W: ?Sized + Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..self.stack.len() {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    /// Called before any value: writes the separator of a pending array element.
    fn value<W: ?Sized + Write>(&mut self, w: &mut W, scalar: bool) -> io::Result<()> {
        let Some(Frame::Array {
            pending, compact, ..
        }) = self.stack.last_mut()
        else {
            return Ok(());
        };
        let Some(first) = pending.take() else {
            return Ok(());
        };
        if !first {
            w.write_all(b",")?;
        }
        if scalar && *compact {
            Ok(())
        } else {
            *compact = false;
            self.indent(w)
        }
    }
}

impl Formatter for ReportFormatter {
    fn write_null<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.value(w, true)?;
        w.write_all(b"null")
    }
    fn write_bool<W: ?Sized + Write>(&mut self, w: &mut W, v: bool) -> io::Result<()> {
        self.value(w, true)?;
        w.write_all(if v { b"true" } else { b"false" })
    }
    fn write_i8<W: ?Sized + Write>(&mut self, w: &mut W, v: i8) -> io::Result<()> {
        self.write_i64(w, v.into())
    }
    fn write_i16<W: ?Sized + Write>(&mut self, w: &mut W, v: i16) -> io::Result<()> {
        self.write_i64(w, v.into())
    }
    fn write_i32<W: ?Sized + Write>(&mut self, w: &mut W, v: i32) -> io::Result<()> {
        self.write_i64(w, v.into())
    }
    fn write_i64<W: ?Sized + Write>(&mut self, w: &mut W, v: i64) -> io::Result<()> {
        self.value(w, true)?;
        write!(w, "{v}")
    }
    fn write_u8<W: ?Sized + Write>(&mut self, w: &mut W, v: u8) -> io::Result<()> {
        self.write_u64(w, v.into())
    }
    fn write_u16<W: ?Sized + Write>(&mut self, w: &mut W, v: u16) -> io::Result<()> {
        self.write_u64(w, v.into())
    }
    fn write_u32<W: ?Sized + Write>(&mut self, w: &mut W, v: u32) -> io::Result<()> {
        self.write_u64(w, v.into())
    }
    fn write_u64<W: ?Sized + Write>(&mut self, w: &mut W, v: u64) -> io::Result<()> {
        self.value(w, true)?;
        write!(w, "{v}")
    }
    fn write_f32<W: ?Sized + Write>(&mut self, w: &mut W, v: f32) -> io::Result<()> {
        self.value(w, true)?;
        // serde_json's own shortest round-trip form.
        w.write_all(
            serde_json::to_string(&v)
                .map_err(io::Error::other)?
                .as_bytes(),
        )
    }
    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, v: f64) -> io::Result<()> {
        self.value(w, true)?;
        w.write_all(
            serde_json::to_string(&v)
                .map_err(io::Error::other)?
                .as_bytes(),
        )
    }
    fn begin_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.value(w, true)?;
        w.write_all(b"\"")
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.value(w, false)?;
        self.stack.push(Frame::Array {
            pending: None,
            compact: true,
            any: false,
        });
        w.write_all(b"[")
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, _w: &mut W, first: bool) -> io::Result<()> {
        if let Some(Frame::Array { pending, any, .. }) = self.stack.last_mut() {
            *pending = Some(first);
            *any = true;
        }
        Ok(())
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        Ok(())
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if let Some(Frame::Array {
            compact: false,
            any: true,
            ..
        }) = self.stack.pop()
        {
            self.indent(w)?;
        }
        w.write_all(b"]")
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.value(w, false)?;
        self.stack.push(Frame::Object { any: false });
        w.write_all(b"{")
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if let Some(Frame::Object { any }) = self.stack.last_mut() {
            *any = true;
        }
        if !first {
            w.write_all(b",")?;
        }
        self.indent(w)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if let Some(Frame::Object { any: true }) = self.stack.pop() {
            self.indent(w)?;
        }
        w.write_all(b"}")
    }
}
