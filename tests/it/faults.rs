//! The faults the fault proxy (fault_proxy.rs) injects, which requests each applies to (method,
//! API path prefix or substring) and how often (the first N, every Kth, or a seeded probability),
//! kept apart from the proxy's plumbing so a test reads as a list of faults. Test-only code (it
//! lives under tests/).

#![allow(dead_code)] // each test module uses a different part

/// What the proxy does to a request a [`Fault`] picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 with `Retry-After: N`; not forwarded.
    TooManyRequests { retry_after: u32 },
    /// 503 before forwarding; OpenBao never sees the request.
    UnavailableBefore,
    /// Forwarded (OpenBao DID process it), then its answer is replaced by a 503.
    UnavailableAfter,
    /// Forwarded, then the client connection is closed without an answer.
    LostAnswer,
    /// 404 `{"errors":["no handler for route ..."]}` as OpenBao answers a path whose mount it does
    /// not know yet; not forwarded. Combine with [`Fault::writes`] for "404 on writes".
    NoHandler,
    /// 307 with `Location: {to}{request path and query}`; `to` is an origin such as
    /// `http://127.0.0.1:PORT` (e.g. a `TokenTrap`) or `https://...`. Not forwarded.
    Redirect { to: String },
}

/// How many of the requests a fault's filter matched get the fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Rate {
    Always,
    /// The first N matching requests.
    First(u64),
    /// The Kth, 2Kth, ... matching request.
    EveryKth(u64),
    /// Each matching request with probability `p`, from a seeded generator (reproducible).
    Probability {
        p: f64,
        seed: u64,
    },
}

/// A fault, the requests it applies to, and how often. Build with the constructors and narrow
/// with the filter methods, e.g. `Fault::too_many(2).writes().prefix("sys/mounts/").first(1)`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: FaultKind,
    /// Upper-case methods; empty = any.
    methods: Vec<String>,
    /// Matched against the API path: the request path without `/v1/` (`sys/mounts/x`).
    prefix: Option<String>,
    contains: Option<String>,
    rate: Rate,
    /// Matching requests so far (the rate counts these).
    matched: u64,
    rng: u64,
}

impl Fault {
    pub fn new(kind: FaultKind) -> Fault {
        Fault {
            kind,
            methods: Vec::new(),
            prefix: None,
            contains: None,
            rate: Rate::Always,
            matched: 0,
            rng: 0,
        }
    }
    pub fn too_many(retry_after: u32) -> Fault {
        Fault::new(FaultKind::TooManyRequests { retry_after })
    }
    pub fn unavailable() -> Fault {
        Fault::new(FaultKind::UnavailableBefore)
    }
    pub fn unavailable_after() -> Fault {
        Fault::new(FaultKind::UnavailableAfter)
    }
    pub fn lost_answer() -> Fault {
        Fault::new(FaultKind::LostAnswer)
    }
    pub fn no_handler() -> Fault {
        Fault::new(FaultKind::NoHandler)
    }
    pub fn redirect(to: &str) -> Fault {
        Fault::new(FaultKind::Redirect {
            to: to.trim_end_matches('/').to_owned(),
        })
    }

    /// Only these methods (`GET`, `PUT`, `POST`, `DELETE`, `LIST`, ...).
    pub fn methods(mut self, methods: &[&str]) -> Fault {
        self.methods = methods.iter().map(|m| m.to_ascii_uppercase()).collect();
        self
    }
    /// Only writes: PUT, POST, PATCH, DELETE.
    pub fn writes(self) -> Fault {
        self.methods(&["PUT", "POST", "PATCH", "DELETE"])
    }
    /// Only API paths starting with `prefix` (without `/v1/`, e.g. `sys/mounts/`).
    pub fn prefix(mut self, prefix: &str) -> Fault {
        self.prefix = Some(prefix.trim_start_matches("/v1/").to_owned());
        self
    }
    /// Only API paths containing `needle`.
    pub fn contains(mut self, needle: &str) -> Fault {
        self.contains = Some(needle.to_owned());
        self
    }
    pub fn first(mut self, n: u64) -> Fault {
        self.rate = Rate::First(n);
        self
    }
    pub fn every(mut self, k: u64) -> Fault {
        self.rate = Rate::EveryKth(k.max(1));
        self
    }
    pub fn probability(mut self, p: f64, seed: u64) -> Fault {
        self.rate = Rate::Probability { p, seed };
        self.rng = seed;
        self
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
            && self.prefix.as_deref().is_none_or(|p| path.starts_with(p))
            && self.contains.as_deref().is_none_or(|c| path.contains(c))
    }

    /// Counts a matching request and says whether the fault fires for it.
    pub(crate) fn fires(&mut self) -> bool {
        self.matched += 1;
        match self.rate {
            Rate::Always => true,
            Rate::First(n) => self.matched <= n,
            Rate::EveryKth(k) => self.matched.is_multiple_of(k),
            Rate::Probability { p, .. } => {
                // splitmix64: a reproducible sequence per seed.
                self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = self.rng;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                ((z >> 11) as f64 / (1u64 << 53) as f64) < p
            }
        }
    }
}
