//! How many allocations the gateway makes per small passthrough request, counted by a global
//! allocator of this test binary's own (the library has none and no `unsafe`). The gateway runs
//! in this process; the test's own threads (the client, the upstream) are left out of the count,
//! so the figure is the gateway's alone. The bench's `--allocs` section measures the same thing
//! under wrk.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The most allocations a small passthrough request may cost the gateway. The floor (actix-web
/// forwarding bytes with awc) makes about 31; switchyard with usage, metrics and health made 53
/// before its request path was trimmed.
const CEILING: f64 = 45.0;

/// Counts allocations while [`COUNTING`] is on, on every thread but those that [`leave_out`]
/// themselves.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread is the test's, not the gateway's.
    static LEFT_OUT: Cell<bool> = const { Cell::new(false) };
}

fn note_allocation() {
    // A thread being torn down has no thread-locals left: it is not serving a request.
    let left_out = LEFT_OUT.try_with(Cell::get).unwrap_or(true);
    if COUNTING.load(Ordering::Relaxed) && !left_out {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on to the system allocator unchanged; counting touches only an
// atomic and a const-initialised thread-local, neither of which allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's contract for `alloc_zeroed`, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Marks the calling thread as the test's own: its allocations are not the gateway's.
fn leave_out() {
    LEFT_OUT.with(|left_out| left_out.set(true));
}

const BODY: &str = r#"{"model":"claude-3-5-haiku-20241022","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;
const ANSWER: &str = r#"{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[{"type":"text","text":"Hello! How can I help you today?"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":10}}"#;

/// Reads one HTTP/1.1 message's head and its body (`content-length` or chunked); `None` at the
/// end of the connection.
fn read_message(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    let (mut length, mut chunked) = (0, false);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
            if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.trim().eq_ignore_ascii_case("chunked");
            }
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    if !chunked {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        return Some((head, body));
    }
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        if size == 0 {
            return Some((head, body));
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// An upstream that answers every request with the same Messages JSON, on threads left out of
/// the count.
fn upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the upstream");
    let addr = listener.local_addr().expect("upstream address");
    std::thread::spawn(move || {
        leave_out();
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                leave_out();
                let mut writer = conn.try_clone().expect("clone the upstream connection");
                let mut reader = BufReader::new(conn);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{ANSWER}",
                    ANSWER.len()
                );
                while read_message(&mut reader).is_some() {
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Starts the gateway in this process with one Anthropic endpoint at `upstream`, configured as
/// the bench's gateway is; answers its address.
fn gateway(dir: &std::path::Path, upstream: SocketAddr) -> SocketAddr {
    let path = dir.join("switchyard.yaml");
    let yaml = format!(
        "proxy:\n  port: 0\n  access_log: false\nendpoints:\n  - id: up\n    base_url: http://{upstream}\n    api_key: bench-key\n"
    );
    std::fs::write(&path, yaml).expect("write the config");
    let config = switchyard::config::load_file(&path).expect("config");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = switchyard::server::run(config, move |addrs| {
            let _ = tx.send(addrs.first().copied());
        });
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the gateway started")
        .expect("the gateway listens")
}

/// Sends `count` small Messages requests on one keep-alive connection, each answered 200 with the
/// upstream's body.
fn send(conn: &mut BufReader<TcpStream>, gateway: SocketAddr, count: usize) {
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: {gateway}\r\ncontent-type: application/json\r\nanthropic-version: 2023-06-01\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    for _ in 0..count {
        conn.get_mut()
            .write_all(request.as_bytes())
            .expect("send the request");
        let (head, body) = read_message(conn).expect("an answer");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, ANSWER.as_bytes());
    }
}

#[test]
fn a_small_passthrough_request_costs_the_gateway_at_most_its_ceiling_of_allocations() {
    leave_out();
    let dir = tempfile::tempdir().expect("temp dir");
    let gateway = gateway(dir.path(), upstream());
    let stream = TcpStream::connect(gateway).expect("connect to the gateway");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut conn = BufReader::new(stream);
    // Connections, pools and the usage store's first batch are made once, not per request.
    send(&mut conn, gateway, 300);
    let requests = 1_000;
    let started = Instant::now();
    COUNTING.store(true, Ordering::Relaxed);
    send(&mut conn, gateway, requests);
    COUNTING.store(false, Ordering::Relaxed);
    let per_request = ALLOCATIONS.load(Ordering::Relaxed) as f64 / requests as f64;
    println!(
        "{per_request:.1} allocations per small passthrough request ({requests} requests in {:.2} s)",
        started.elapsed().as_secs_f64()
    );
    assert!(
        per_request <= CEILING,
        "a small passthrough request cost the gateway {per_request:.1} allocations, above the ceiling of {CEILING}: \
         bench/run.sh --allocs and a `perf probe` on malloc show where they come from"
    );
}
