//! A management connection to irmd: `irm` commands and irmd's status,
//! without announcing the caller as an application (it gets no pool and
//! allocates no flows).

use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::error::{Error, Result};
use crate::{rundir, sys};
use o7s_seam::rpc::{self, Received, reply, request};

/// One management connection to irmd.
#[derive(Debug)]
pub struct Admin {
    sock: UnixStream,
    buf: Vec<u8>,
    next_id: u64,
}

impl Admin {
    /// Connects to the irmd of runtime directory `dir` (see
    /// [`rundir::dir`]).
    pub fn connect(dir: &Path) -> Result<Admin> {
        let path = rundir::socket(dir);
        let sock = sys::seqpacket_connect(&path).map_err(|source| Error::NoIrmd { path, source })?;
        Ok(Admin {
            sock,
            buf: vec![0u8; rpc::MAX_MSG],
            next_id: 1,
        })
    }

    fn call(&mut self, body: request::Body) -> Result<reply::Body> {
        let id = self.next_id;
        self.next_id += 1;
        if let Err(e) = rpc::send(&self.sock, &rpc::Request { id, body: Some(body) }, &[]) {
            return Err(rpc::refusal(&self.sock, &mut self.buf).map_or(e.into(), |r| Error::from_reply(r, "")));
        }
        loop {
            match rpc::recv::<rpc::Reply>(&self.sock, &mut self.buf)? {
                Received::Message(r, _) if r.id == id => {
                    return match r.body {
                        Some(reply::Body::Error(e)) => Err(Error::from_reply(e, "")),
                        Some(body) => Ok(body),
                        None => Err(Error::Protocol("empty reply".into())),
                    };
                }
                // irmd refusing the connection says why before it closes.
                Received::Message(
                    rpc::Reply {
                        id: 0,
                        body: Some(reply::Body::Error(e)),
                    },
                    _,
                ) => return Err(Error::from_reply(e, "")),
                Received::Message(..) => {}
                Received::Malformed(e) => return Err(Error::Protocol(e.to_string())),
                Received::Closed => return Err(Error::IrmdGone),
            }
        }
    }

    /// Runs one `irm` command line; returns what irm prints.
    pub fn command(&mut self, argv: &[String]) -> Result<String> {
        match self.call(request::Body::Command(rpc::Command { argv: argv.to_vec() }))? {
            reply::Body::Output(o) => Ok(o.text),
            other => Err(Error::Protocol(format!("unexpected answer to a command: {other:?}"))),
        }
    }

    /// irmd's flows, processes and pool.
    pub fn status(&mut self) -> Result<rpc::StatusReply> {
        match self.call(request::Body::Status(rpc::Status {}))? {
            reply::Body::Status(s) => Ok(s),
            other => Err(Error::Protocol(format!("unexpected answer to status: {other:?}"))),
        }
    }

    /// Sends raw bytes as one message (for tests of irmd's input checks)
    /// and returns irmd's answer, if it sent one.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<Option<rpc::Reply>> {
        // One message, the empty one included (write_all would send
        // nothing for it).
        rpc::send_bytes(&self.sock, bytes, &[])?;
        self.sock.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
        let got = rpc::recv::<rpc::Reply>(&self.sock, &mut self.buf);
        self.sock.set_read_timeout(None)?;
        match got {
            Ok(Received::Message(r, _)) => Ok(Some(r)),
            Ok(Received::Closed) => Err(Error::IrmdGone),
            Ok(Received::Malformed(e)) => Err(Error::Protocol(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
