//! HTTP mechanics shared by the JSON API and the pages: how untrusted input comes in
//! (`input`), the headers every response carries (`headers`), and the route table's building
//! block (`routes`: one resource per path, HEAD for GET, 405 with `Allow`).

pub mod headers;
pub mod input;
pub mod routes;
