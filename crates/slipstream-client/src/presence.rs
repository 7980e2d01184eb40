//! Phoenix Presence reconciliation (PROTOCOL §11.2). Filled in below.
