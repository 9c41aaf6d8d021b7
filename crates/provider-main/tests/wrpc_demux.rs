//! wRPC over NATS must not lose a message when its demultiplexer falls behind.
//!
//! Every wRPC client (the host, each provider) reads all its NATS traffic through one `inbox.>`
//! subscription and one task that routes each message to the invocation it belongs to. An
//! invocation registers its subjects with that task (a command on a channel) *before* it
//! publishes anything a peer could answer. As published, wrpc-transport-nats 0.28/0.29 let the
//! task pick at random between a waiting command and a waiting message, so when both were
//! waiting it could route a message before its subject was registered, drop it as having "no
//! subscriber", and leave the stream it belonged to waiting forever. That is the upload that
//! went unanswered in CI: a blob chunk dropped on its way to blobstore-fs.
//!
//! The routing task falls behind whenever one stream's reader is slow: it waits for room in that
//! stream's channel (16 messages) and meanwhile both commands and messages pile up. This test
//! makes exactly that happen on purpose against a real nats-server: one invocation's stream is
//! not read while others are made; then it is released and every invocation must complete.
//! With the patch (patches/wrpc-transport-nats-demux-commands-first.patch) commands are applied
//! before messages, and none is lost.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use futures::StreamExt as _;
use pixelbus_test_nats::NatsServer;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::Notify;
use wrpc_transport::{Invoke as _, Serve as _};

const INSTANCE: &str = "pixelbus:test/echo@0.1.0";
const FUNC: &str = "echo";
/// Chunks sent on the stalled stream: one more than its channel holds (16), so routing stalls
/// on the last one and the late invocations' messages are next in line behind it.
const STALLED_CHUNKS: usize = 17;
/// Invocations made while routing is stalled.
const LATE: usize = 24;
/// Far more than any of these invocations needs on an idle machine; reaching it means lost data.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

type Paths = Vec<Box<[Option<usize>]>>;

/// Serves `echo`: answers with every byte of the parameter stream. An invocation whose first
/// byte is `S` is not read until `release` is notified.
async fn serve(server: wrpc_transport_nats::Client, release: Arc<Notify>) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let invocations = server.serve(INSTANCE, FUNC, Paths::new()).await?;
    Ok(tokio::spawn(answer_each(invocations, release)))
}

async fn answer_each(
    invocations: impl futures::Stream<Item = anyhow::Result<(Option<async_nats::HeaderMap>, wrpc_transport_nats::SubjectWriter, wrpc_transport_nats::Reader)>>,
    release: Arc<Notify>,
) -> anyhow::Result<()> {
    let mut invocations = std::pin::pin!(invocations);
    while let Some(invocation) = invocations.next().await {
        let (_, mut results, mut params) = invocation?;
        let release = Arc::clone(&release);
        tokio::spawn(async move {
            let mut first = [0u8; 1];
            params.read_exact(&mut first).await?;
            if first[0] == b'S' {
                release.notified().await;
            }
            let mut echoed = first.to_vec();
            params.read_to_end(&mut echoed).await?;
            results.write_all(&echoed).await?;
            results.shutdown().await?;
            anyhow::Ok(())
        });
    }
    Ok(())
}

/// Invokes `echo` with `first` in the handshake; the stream stays open.
async fn invoke(client: &wrpc_transport_nats::Client, first: &'static [u8]) -> anyhow::Result<(wrpc_transport_nats::ParamWriter, wrpc_transport_nats::Reader)> {
    client.invoke(None, INSTANCE, FUNC, Bytes::from_static(first), Paths::new()).await.context("invoke")
}

/// Streams `chunks` (once the server has answered the handshake) and closes the stream.
async fn stream(params: &mut wrpc_transport_nats::ParamWriter, chunks: &[Bytes]) -> anyhow::Result<()> {
    for chunk in chunks {
        params.write_all(chunk).await.context("streaming a chunk")?;
    }
    params.shutdown().await.context("closing the stream")
}

async fn answer(mut results: wrpc_transport_nats::Reader) -> anyhow::Result<Vec<u8>> {
    let mut answer = Vec::new();
    results.read_to_end(&mut answer).await?;
    Ok(answer)
}

/// Returns once every message `client` published so far has reached `server`'s connection:
/// a marker published after them has arrived (NATS keeps one connection's messages in order).
/// The marker is published again until it arrives, in case the subscription was not yet in place.
async fn delivered(client: &async_nats::Client, server: &async_nats::Client) -> anyhow::Result<()> {
    let marker = server.new_inbox();
    let mut seen = server.subscribe(marker.clone()).await?;
    let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
    loop {
        client.publish(marker.clone(), Bytes::new()).await?;
        client.flush().await?;
        match tokio::time::timeout(Duration::from_millis(50), seen.next()).await {
            Ok(_) => return Ok(()),
            Err(_) if tokio::time::Instant::now() < deadline => continue,
            Err(_) => anyhow::bail!("no marker reached the server connection"),
        }
    }
}

/// Answers once `echo` is served (its subscription has reached nats-server).
async fn until_served(client: &wrpc_transport_nats::Client) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
    loop {
        let (mut params, results) = invoke(client, b"W").await?;
        match stream(&mut params, &[]).await {
            Ok(()) => {
                anyhow::ensure!(answer(results).await? == b"W", "wrong warm-up answer");
                return Ok(());
            }
            // Not served yet ("no responders"): ask again shortly.
            Err(_) if tokio::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => return Err(e.context("echo was never served")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_message_is_lost_while_routing_is_stalled() -> anyhow::Result<()> {
    let nats = NatsServer::start();
    // Separate connections, as the host and a provider have.
    let server_nats = async_nats::connect(nats.url()).await?;
    let client_nats = async_nats::connect(nats.url()).await?;
    let server = wrpc_transport_nats::Client::new(server_nats.clone(), "pbtest", None).await?;
    let client = Arc::new(wrpc_transport_nats::Client::new(client_nats.clone(), "pbtest", None).await?);
    let release = Arc::new(Notify::new());
    let served = serve(server, Arc::clone(&release)).await?;
    until_served(&client).await?;

    // The stalled stream: the server reads its first byte only, so its channel fills and the
    // server's routing task waits for room to pass on the last chunk.
    let stalled_chunks: Vec<Bytes> = (0..STALLED_CHUNKS).map(|i| Bytes::from(format!("chunk {i:02};"))).collect();
    let expected_stalled: Vec<u8> = std::iter::once(b'S').chain(stalled_chunks.iter().flat_map(|c| c.to_vec())).collect();
    let (mut stalled_params, stalled) = invoke(&client, b"S").await?;
    stream(&mut stalled_params, &stalled_chunks).await.context("the stalled stream")?;
    delivered(&client_nats, &server_nats).await?;

    // Invocations made while routing is stalled. Each one's handshake makes the server queue a
    // command registering its subjects (in the order 0, 1, ...); then each streams a chunk and
    // the end of its stream, in the reverse order, so the last-registered invocation's messages
    // wait at the front. Routed before their command, they would be dropped.
    let late_chunks: Vec<Bytes> = (0..LATE).map(|i| Bytes::from(format!("late {i:02}"))).collect();
    let mut late = Vec::with_capacity(LATE);
    for _ in 0..LATE {
        late.push(invoke(&client, b"L").await?);
    }
    for ((params, _), chunk) in late.iter_mut().zip(&late_chunks).rev() {
        stream(params, std::slice::from_ref(chunk)).await.context("a late invocation")?;
    }
    delivered(&client_nats, &server_nats).await?;
    release.notify_one();

    let stalled_answer = tokio::time::timeout(ANSWER_WITHIN, answer(stalled))
        .await
        .map_err(|_| anyhow::anyhow!("the stalled stream never completed"))??;
    anyhow::ensure!(stalled_answer == expected_stalled, "the stalled stream came back altered");
    let answers = futures::future::join_all(late.into_iter().map(|(_, results)| tokio::time::timeout(ANSWER_WITHIN, answer(results)))).await;
    let mut lost = 0;
    for (i, (answered, chunk)) in answers.into_iter().zip(&late_chunks).enumerate() {
        let expected = [b"L".as_slice(), chunk].concat();
        match answered {
            Ok(got) if got.as_ref().is_ok_and(|got| *got == expected) => {}
            Ok(got) => {
                eprintln!("late invocation {i} answered {got:?}, not {expected:?}: a message of its stream was dropped");
                lost += 1;
            }
            Err(_) => {
                eprintln!("late invocation {i} never answered: a message of its stream was dropped");
                lost += 1;
            }
        }
    }
    served.abort();
    anyhow::ensure!(lost == 0, "{lost} of {LATE} invocations made while routing was stalled lost data");
    Ok(())
}
