//! The route table's building block. Each path is one resource with the methods it takes:
//! GET also answers HEAD (uptime monitors use it; the server sends the headers without the
//! body), and a method the path does not take is a 405 whose `Allow` names the ones it does,
//! not a 404. The same declarations can be listed without serving them ([`table`]), so tests
//! walk every route.

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, HttpRequest, Responder};

use crate::error::AppError;

/// One method on one path, with the path as registered (`/api/v1/units/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: Method,
    pub path: String,
}

enum Item {
    Resource {
        path: String,
        methods: Vec<Method>,
        resource: Option<actix_web::Resource>,
    },
    Service(Box<dyn FnOnce(&mut web::ServiceConfig)>),
}

/// Collects routes in declaration order, grouping the methods of one path into one resource.
pub struct Routes {
    prefix: String,
    serve: bool,
    items: Vec<Item>,
    listed: Vec<RouteInfo>,
}

impl Routes {
    fn new(prefix: &str, serve: bool) -> Routes {
        Routes {
            prefix: prefix.to_owned(),
            serve,
            items: Vec::new(),
            listed: Vec::new(),
        }
    }

    fn add(&mut self, path: &str, method: Method, route: impl FnOnce() -> actix_web::Route) {
        self.listed.push(RouteInfo {
            method: method.clone(),
            path: format!("{}{path}", self.prefix),
        });
        let serve = self.serve;
        let found = self.items.iter_mut().find_map(|i| match i {
            Item::Resource {
                path: p,
                methods,
                resource,
            } if p == path => Some((methods, resource)),
            _ => None,
        });
        match found {
            Some((methods, resource)) => {
                methods.push(method);
                if let Some(r) = resource.take() {
                    *resource = Some(r.route(route()));
                }
            }
            None => self.items.push(Item::Resource {
                path: path.to_owned(),
                methods: vec![method],
                resource: serve.then(|| web::resource(path).route(route())),
            }),
        }
    }

    /// GET, and HEAD with the same handler.
    pub fn get<F, Args>(&mut self, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let head = handler.clone();
        self.add(path, Method::GET, || web::get().to(handler));
        self.add(path, Method::HEAD, || web::head().to(head));
        self
    }

    pub fn post<F, Args>(&mut self, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(path, Method::POST, || web::post().to(handler));
        self
    }

    pub fn put<F, Args>(&mut self, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(path, Method::PUT, || web::put().to(handler));
        self
    }

    pub fn patch<F, Args>(&mut self, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(path, Method::PATCH, || web::patch().to(handler));
        self
    }

    pub fn delete<F, Args>(&mut self, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(path, Method::DELETE, || web::delete().to(handler));
        self
    }

    /// Routes under `prefix`, wrapped by `wrap` (a middleware of that part, or `|s| s`).
    pub fn scope<S>(
        &mut self,
        prefix: &str,
        wrap: impl FnOnce(actix_web::Scope) -> S + 'static,
        body: impl FnOnce(&mut Routes),
    ) -> &mut Self
    where
        S: actix_web::dev::HttpServiceFactory + 'static,
    {
        let mut inner = Routes::new(&format!("{}{prefix}", self.prefix), self.serve);
        body(&mut inner);
        self.listed.append(&mut inner.listed);
        if self.serve {
            let prefix = prefix.to_owned();
            self.items.push(Item::Service(Box::new(move |cfg| {
                let scope = inner.into_services(web::scope(&prefix));
                cfg.service(wrap(scope));
            })));
        }
        self
    }

    fn into_services(self, mut scope: actix_web::Scope) -> actix_web::Scope {
        for item in self.items {
            match item {
                Item::Resource {
                    methods, resource, ..
                } => {
                    if let Some(r) = resource {
                        scope = scope.service(with_405(r, &methods));
                    }
                }
                Item::Service(f) => scope = scope.configure(f),
            }
        }
        scope
    }

    fn register(self, cfg: &mut web::ServiceConfig) {
        for item in self.items {
            match item {
                Item::Resource {
                    methods, resource, ..
                } => {
                    if let Some(r) = resource {
                        cfg.service(with_405(r, &methods));
                    }
                }
                Item::Service(f) => f(cfg),
            }
        }
    }
}

fn with_405(resource: actix_web::Resource, methods: &[Method]) -> actix_web::Resource {
    let allow = methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    resource.default_service(web::to(move |req: HttpRequest| {
        let allow = allow.clone();
        async move { super::respond_with_error(&req, AppError::MethodNotAllowed { allow }) }
    }))
}

/// Registers the routes `declare` names.
pub fn serve(cfg: &mut web::ServiceConfig, declare: impl FnOnce(&mut Routes)) {
    let mut routes = Routes::new("", true);
    declare(&mut routes);
    routes.register(cfg);
}

/// Every method and path `declare` names, without serving them.
pub fn table(declare: impl FnOnce(&mut Routes)) -> Vec<RouteInfo> {
    let mut routes = Routes::new("", false);
    declare(&mut routes);
    routes.listed
}
