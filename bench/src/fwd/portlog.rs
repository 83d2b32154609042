//! How the router's ports came up, read from its log: the dataplane logs
//! each AF_XDP port it opens ("AF_XDP port open", with the steering
//! program's mode and the socket's mode and ring sizes) and has no other
//! way to ask. This layer keeps those events whatever the log level.

use std::fmt;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{Filtered, Targets};
use tracing_subscriber::layer::Context;

/// The target of the dataplane's AF_XDP port events.
const TARGET: &str = "o7s_dataplane::port::xdp";
const MESSAGE: &str = "AF_XDP port open";

static PORTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A layer recording "AF_XDP port open" events (add it to the subscriber).
#[derive(Debug, Clone, Copy)]
pub struct PortLog;

impl PortLog {
    /// The layer with its own filter: info events of the port module only.
    pub fn layer<S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>>()
    -> Filtered<PortLog, Targets, S> {
        PortLog.with_filter(Targets::new().with_target(TARGET, tracing::Level::INFO))
    }

    /// Ports opened so far, in words ("r0: AF_XDP copy (...), XDP native").
    pub fn ports() -> Vec<String> {
        PORTS.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Forgets them (before a router starts).
    pub fn clear() {
        if let Ok(mut p) = PORTS.lock() {
            p.clear();
        }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    ifname: String,
    xdp: String,
    socket: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field, format!("{value:?}"));
    }
}

impl Fields {
    fn set(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.message = value,
            "ifname" => self.ifname = value,
            "xdp" => self.xdp = value,
            "socket" => self.socket = value,
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for PortLog {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        if f.message == MESSAGE
            && let Ok(mut ports) = PORTS.lock()
        {
            ports.push(format!("{}: {}, XDP {}", f.ifname, f.socket, f.xdp));
        }
    }
}
