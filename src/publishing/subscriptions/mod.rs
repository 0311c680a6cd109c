//! 订阅: a signed-in person follows a list (platform-wide, a sub-platform's or a unit's; one
//! kind or all) and hears of each new article at once or in the 08:00 daily digest. Every
//! such e-mail carries a one-click unsubscribe (RFC 8058) that needs no sign-in and undoes
//! that one subscription only.

pub mod handlers;
pub mod model;
pub mod service;
pub mod store;
