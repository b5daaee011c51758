//! A DynamoDB-compatible server for tests: moto, started once per test binary.
//!
//! `MOTO_ENDPOINT` points the tests at a server that is already running. Otherwise `moto_server`
//! (from `PATH`, or `MOTO_SERVER_BIN`) is started on a free loopback port under a small shell
//! watchdog that stops it once this test process is gone, so no server outlives its tests. Each
//! test gets a fresh table with a unique name, so tests run in parallel on one server.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use shared::aws::sdk_config;
use shared::store::dynamodb::{DynamoStore, TableStream, create_table_with};

const INSTALL_HINT: &str = "install it with: pip install \"moto[dynamodb]==5.2.5\" flask flask-cors \
     (or set MOTO_ENDPOINT to a running server, or MOTO_SERVER_BIN to the executable)";

/// The endpoint of this test binary's moto server, started on first use.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| match std::env::var("MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => start_server(),
    })
}

/// A DynamoDB client for the moto server. Build one per test: an SDK client keeps connections
/// that belong to the runtime it first ran on, and every `#[tokio::test]` has its own.
pub async fn client() -> Client {
    Client::new(&sdk_config(Some(endpoint())).await)
}

/// A new, empty table with this adapter's schema and no stream, and a client for it.
///
/// No stream, because moto keeps a table's stream records with the table and copies them with
/// it on every transaction (to undo a cancelled one): with a stream, each transaction costs more
/// than the one before, and a busy test's writes slow to a crawl (hundreds of milliseconds per
/// round trip, served one at a time). Tests that read the stream ask for
/// [`fresh_table_with_stream`].
pub async fn fresh_table() -> (Client, String) {
    new_table(TableStream::Off).await
}

/// A new, empty table exactly as deployed: with its stream (new and old images).
pub async fn fresh_table_with_stream() -> (Client, String) {
    new_table(TableStream::NewAndOldImages).await
}

async fn new_table(stream: TableStream) -> (Client, String) {
    let client = client().await;
    let table = format!("chat-test-{}", uuid::Uuid::new_v4().simple());
    create_table_with(&client, &table, stream)
        .await
        .unwrap_or_else(|error| panic!("creating table {table} on moto failed: {error}"));
    (client, table)
}

/// A [`DynamoStore`] on a fresh table.
pub async fn fresh_store() -> DynamoStore {
    let (client, table) = fresh_table().await;
    DynamoStore::new(client, table)
}

fn start_server() -> String {
    let program = std::env::var_os("MOTO_SERVER_BIN")
        .map(PathBuf::from)
        .or_else(|| find_on_path("moto_server"))
        .unwrap_or_else(|| panic!("moto_server was not found on PATH; {INSTALL_HINT}"));
    let port = free_port();
    // moto applies a transaction's writes as it checks them and undoes a cancelled one by
    // restoring a copy of the whole table taken when it began: with requests served at once, a
    // cancelled transaction erases other requests' writes, and readers see half of one. AWS
    // isolates transactions; one request at a time makes moto do the same. So a Python
    // `moto_server` runs through `SERIALIZED`; anything else runs as it is.
    let (program, serialized) = match python_of(&program) {
        Some(python) => (python, Some(SERIALIZED)),
        None => (program, None),
    };
    // The watchdog shell keeps the server only as long as this test process lives.
    let watchdog = r#"
        if [ -n "$4" ]; then "$1" -c "$4" -H 127.0.0.1 -p "$2" >/dev/null 2>&1 &
        else "$1" -H 127.0.0.1 -p "$2" >/dev/null 2>&1 &
        fi
        server=$!
        trap 'kill $server 2>/dev/null' EXIT INT TERM
        while kill -0 "$3" 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 0.5; done
    "#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(watchdog)
        .arg("moto-watchdog")
        .arg(&program)
        .arg(port.to_string())
        .arg(std::process::id().to_string())
        .arg(serialized.unwrap_or(""))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("could not start {}: {error}", program.display()));
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            // The watchdog lives as long as this process; keep its handle for as long.
            static WATCHDOG: OnceLock<Mutex<Child>> = OnceLock::new();
            let _ = WATCHDOG.set(Mutex::new(child));
            return format!("http://{address}");
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{} exited ({status}) before answering; {INSTALL_HINT}",
                program.display()
            );
        }
        if Instant::now() > deadline {
            panic!(
                "{} did not answer on {address} within 10 s; {INSTALL_HINT}",
                program.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `moto_server` with every request served alone (see `start_server`).
const SERIALIZED: &str = r#"
import sys, threading
import moto.server as server
lock = threading.Lock()
run_simple = server.run_simple
def serialized(host, port, app, **options):
    def one_at_a_time(environ, start_response):
        with lock:
            return list(app(environ, start_response))
    return run_simple(host, port, one_at_a_time, **options)
server.run_simple = serialized
server.main(sys.argv[1:])
"#;

/// The Python interpreter a `moto_server` script names on its first line, if it is one.
fn python_of(program: &std::path::Path) -> Option<PathBuf> {
    let text = std::fs::read(program).ok()?;
    let first = text.split(|b| *b == b'\n').next()?;
    let interpreter = std::str::from_utf8(first).ok()?.strip_prefix("#!")?.trim();
    interpreter
        .contains("python")
        .then(|| PathBuf::from(interpreter))
        .filter(|python| python.is_file())
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}
