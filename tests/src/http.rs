//! A small HTTP/1.1 server (hyper) behind every HTTP endpoint of the kit, with what tests need
//! to break it on purpose: injected latency, a queue of faults consumed one per request, a
//! persistent fault, and a log of the requests it received.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Something an endpoint does instead of answering normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status, body and extra headers (for example `Retry-After`).
    Status {
        /// The HTTP status code.
        status: u16,
        /// The response body.
        body: String,
        /// Extra response headers.
        headers: Vec<(String, String)>,
    },
    /// Never answer: the request hangs until the client gives up.
    Hang,
    /// Answer 200 with a body the client cannot parse.
    Malformed,
    /// Answer 200 with a body of this many bytes.
    Oversized(usize),
    /// Drop the connection without an answer.
    CloseConnection,
}

impl Fault {
    /// A status with a body and no extra headers.
    pub fn status(status: u16, body: impl Into<String>) -> Self {
        Fault::Status {
            status,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// HTTP 429 with a `Retry-After` header (seconds).
    pub fn throttled(retry_after_secs: u64) -> Self {
        Fault::Status {
            status: 429,
            body: r#"{"error":"throttled","error_description":"Too many requests"}"#.into(),
            headers: vec![("Retry-After".into(), retry_after_secs.to_string())],
        }
    }
}

/// The faults an endpoint will inject.
#[derive(Debug, Default)]
pub struct Faults {
    queue: Mutex<VecDeque<Fault>>,
    always: Mutex<Option<Fault>>,
    latency: Mutex<Duration>,
}

impl Faults {
    /// Queues a fault for one future request; queued faults are used in order, then the
    /// endpoint answers normally again.
    pub fn push(&self, fault: Fault) -> &Self {
        self.queue.lock().unwrap().push_back(fault);
        self
    }

    /// Applies a fault to every request until cleared (`None`).
    pub fn set_always(&self, fault: Option<Fault>) {
        *self.always.lock().unwrap() = fault;
    }

    /// Delays every answer (and every fault) by this much.
    pub fn set_latency(&self, latency: Duration) {
        *self.latency.lock().unwrap() = latency;
    }

    /// Removes queued and persistent faults and the latency.
    pub fn clear(&self) {
        self.queue.lock().unwrap().clear();
        self.set_always(None);
        self.set_latency(Duration::ZERO);
    }

    fn next(&self) -> Option<Fault> {
        let queued = self.queue.lock().unwrap().pop_front();
        queued.or_else(|| self.always.lock().unwrap().clone())
    }

    fn latency(&self) -> Duration {
        *self.latency.lock().unwrap()
    }
}

/// A request as the endpoint saw it.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// The method, such as `GET`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as text (form posts).
    pub body: String,
}

impl HttpRequest {
    /// The first value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a form field in an `application/x-www-form-urlencoded` body.
    pub fn form(&self, name: &str) -> Option<String> {
        url_pairs(&self.body)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// An answer from an endpoint.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
}

impl HttpResponse {
    pub(crate) fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.to_string(),
        }
    }

    pub(crate) fn text(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type: "text/plain",
            body: body.into(),
        }
    }
}

/// What an endpoint does with a request when no fault applies.
pub(crate) trait Handler: Send + Sync + 'static {
    fn handle(&self, request: &HttpRequest) -> HttpResponse;

    /// A 200 body this endpoint's clients cannot parse.
    fn malformed(&self) -> HttpResponse {
        HttpResponse::json(200, serde_json::json!("not the object you expected"))
    }
}

/// Requests seen by an endpoint.
#[derive(Debug, Default)]
pub struct RequestLog {
    count: AtomicUsize,
    requests: Mutex<Vec<HttpRequest>>,
}

impl RequestLog {
    /// How many requests arrived (including those answered with a fault).
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// The requests, oldest first.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// The newest request.
    pub fn last(&self) -> Option<HttpRequest> {
        self.requests.lock().unwrap().last().cloned()
    }

    fn record(&self, request: HttpRequest) {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.requests.lock().unwrap().push(request);
    }
}

/// A running endpoint; it stops when dropped.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    faults: Arc<Faults>,
    log: Arc<RequestLog>,
    task: JoinHandle<()>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpServer {
    /// Serves `handler` on `127.0.0.1:port` (0 picks a free port).
    pub(crate) async fn start(port: u16, handler: Arc<dyn Handler>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let faults = Arc::new(Faults::default());
        let log = Arc::new(RequestLog::default());
        let shared = Endpoint {
            handler,
            faults: faults.clone(),
            log: log.clone(),
        };
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let endpoint = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| endpoint.clone().serve(req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            faults,
            log,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The faults to inject.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The requests received.
    pub fn log(&self) -> &RequestLog {
        &self.log
    }
}

#[derive(Clone)]
struct Endpoint {
    handler: Arc<dyn Handler>,
    faults: Arc<Faults>,
    log: Arc<RequestLog>,
}

impl Endpoint {
    async fn serve(
        self,
        req: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, std::io::Error> {
        let request = read_request(req).await;
        self.log.record(request.clone());
        let latency = self.faults.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let answer = match self.faults.next() {
            None => self.handler.handle(&request),
            Some(Fault::Status {
                status,
                body,
                headers,
            }) => {
                return Ok(build(
                    HttpResponse::json(status, serde_json::Value::Null),
                    body,
                    &headers,
                ));
            }
            Some(Fault::Hang) => std::future::pending::<HttpResponse>().await,
            Some(Fault::Malformed) => self.handler.malformed(),
            Some(Fault::Oversized(len)) => HttpResponse::text(200, "a".repeat(len)),
            Some(Fault::CloseConnection) => {
                return Err(std::io::Error::other("fault: close the connection"));
            }
        };
        let body = answer.body.clone();
        Ok(build(answer, body, &[]))
    }
}

fn build(
    answer: HttpResponse,
    body: String,
    headers: &[(String, String)],
) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(answer.status)
        .header("content-type", answer.content_type);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .expect("valid response")
}

async fn read_request(req: Request<hyper::body::Incoming>) -> HttpRequest {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    HttpRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(url_pairs).unwrap_or_default(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Decodes `a=1&b=x%20y` pairs (form encoding: `+` is a space).
fn url_pairs(text: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{text}"))
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}
