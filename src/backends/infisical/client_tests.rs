//! #[cfg(test)] Tests of the Infisical client against wiremock (compiled only under
//! `#[cfg(test)]`, from client.rs): one login shared by concurrent requests, a new login after a
//! 401, a refused login not tried again, no secret in any error, and Fastify's missing route.

use super::*;
