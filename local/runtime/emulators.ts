/**
 * The AWS API stand-ins the local runtime deploys onto, and specs use directly: dynalite
 * (DynamoDB), s3rver (S3), kinesis-local (Kinesis) and fauxqs (SQS and SNS). Each one binds to a
 * free loopback port, and each `stop()` releases every handle, so nothing is left running.
 */
import { ChildProcess, spawn } from "child_process";
import { rmSync } from "fs";
import { mkdtemp, rm } from "fs/promises";
import { Server } from "http";
import { AddressInfo, createServer } from "net";
import { tmpdir } from "os";
import { dirname, join } from "path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { KinesisClient, ListStreamsCommand } from "@aws-sdk/client-kinesis";
import { S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import { NodeHttpHandler } from "@smithy/node-http-handler";

export interface Emulator {
  /** Base URL to pass as the SDK client's `endpoint`. */
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Releases the port, files and processes; resolves once they are gone. */
  stop(): Promise<void>;
}

const REGION = "us-east-1";
const HOST = "127.0.0.1";
// Used where the emulator does not check signatures; the SDK still needs something to sign with.
const DUMMY_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };
const STARTUP_TIMEOUT_MS = 20_000;
const GUARD = join(__dirname, "child-guard.js");
const STOP_TIMEOUT_MS = 5_000;
// Enough of the child's output to explain a failed start without flooding the error.
const OUTPUT_TAIL_CHARS = 4_000;

// Neither dynalite nor s3rver ships type declarations; these describe the parts used here.
type DynaliteFactory = (options: {
  createTableMs: number;
  deleteTableMs: number;
  updateTableMs: number;
}) => Server;
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  on(event: "event", listener: (event: { Records: S3rverRecord[] }) => void): void;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
}) => S3rverInstance;

/**
 * Asks the OS for a currently unused loopback port. Only needed for servers
 * that cannot be told to listen on port 0 and report back (kinesis-local);
 * another process could grab the port in between, which is acceptable for tests.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** In-process DynamoDB emulator with instant table state transitions. */
export async function startDynalite(region = REGION): Promise<Emulator> {
  const dynalite = require("dynalite") as DynaliteFactory;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${HOST}:${port}`,
    region,
    credentials: DUMMY_CREDENTIALS,
    // dynalite's close() also waits for its in-memory LevelDB store to shut down.
    stop: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

/** The part of fauxqs used here (its types resolve for ES modules only). */
interface FauxqsModule {
  buildApp(options: { logger: boolean; defaultRegion: string }): { listen(o: { port: number; host: string }): Promise<string>; close(): Promise<void> };
}

/** In-process SQS and SNS emulator (fauxqs 1.9.2, the last release that declares Node 20). */
export async function startFauxqs(region = REGION): Promise<Emulator> {
  // fauxqs is an ES module; Node 20.19+ loads it from CommonJS. Its startFauxqs listens on every
  // interface; its app, listened on here, stays on loopback.
  const { buildApp } = (await import("fauxqs" as string)) as FauxqsModule;
  const app = buildApp({ logger: false, defaultRegion: region });
  const address = await app.listen({ port: 0, host: HOST });
  return {
    endpoint: address,
    region,
    credentials: DUMMY_CREDENTIALS,
    stop: () => app.close(),
  };
}

/** One S3 event notification record as s3rver emits it (keys as written, not URL-encoded). */
export interface S3rverRecord {
  eventName: string;
  eventTime: string;
  requestParameters: { sourceIPAddress: string };
  responseElements: Record<string, string>;
  s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string; sequencer: string } };
}

/** In-process S3 emulator backed by a throwaway directory; `onEvent` hears every object created or deleted. */
export async function startS3rver(options: { onEvent?: (record: S3rverRecord) => void; region?: string } = {}): Promise<Emulator> {
  const S3rver = require("s3rver") as S3rverConstructor;
  // A fresh directory per instance: s3rver's default is a shared folder under tmpdir that outlives runs.
  const directory = await mkdtemp(join(tmpdir(), "s3rver-"));
  // A process ended without stop() (a signal handler that exits) still leaves no folder behind.
  const removeOnExit = () => rmSync(directory, { recursive: true, force: true });
  process.once("exit", removeOnExit);
  const server = new S3rver({ address: HOST, port: 0, silent: true, directory });
  if (options.onEvent) server.on("event", (event) => event.Records.forEach((r) => options.onEvent!(r)));
  let port: number;
  try {
    ({ port } = await server.run());
  } catch (err) {
    await rm(directory, { recursive: true, force: true });
    throw err;
  }
  return {
    endpoint: `http://${HOST}:${port}`,
    region: options.region ?? REGION,
    // s3rver verifies SigV4 signatures against this fixed key pair.
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    stop: async () => {
      try {
        await server.close();
      } finally {
        process.removeListener("exit", removeOnExit);
        await rm(directory, { recursive: true, force: true });
      }
    },
  };
}

/**
 * kinesis-mock (Scala.js build) as a child process. It takes its ports from env
 * vars and never reports what it bound, so both are picked beforehand; it runs
 * from its package folder because it loads its TLS certificate (server.json)
 * relative to the working directory.
 */
export async function startKinesisLocal(region = REGION): Promise<Emulator> {
  const plainPort = await freePort();
  let tlsPort = await freePort();
  // Two back-to-back probes can come back with the same port; the mock needs two distinct ones.
  while (tlsPort === plainPort) tlsPort = await freePort();
  return startChild({
    name: "kinesis-local",
    args: ["main.js"],
    cwd: dirname(require.resolve("kinesis-local/package.json")),
    env: {
      KINESIS_MOCK_PLAIN_PORT: String(plainPort),
      KINESIS_MOCK_TLS_PORT: String(tlsPort),
      AWS_REGION: region,
      // Every state transition defaults to 500ms; tests should not sleep on them.
      CREATE_STREAM_DURATION: "0ms",
      DELETE_STREAM_DURATION: "0ms",
      UPDATE_SHARD_COUNT_DURATION: "0ms",
      // Rejected requests are logged as warnings by default; keep them from crowding out a crash in the tail.
      LOG_LEVEL: "ERROR",
    },
    port: plainPort,
    region,
    probe: async (e) => {
      const client = kinesisClient(e, { maxAttempts: 1 });
      try {
        // Per-probe timeout so a port that accepts but never answers cannot outlast the deadline.
        await client.send(new ListStreamsCommand({}), { abortSignal: AbortSignal.timeout(1_000) });
      } finally {
        client.destroy();
      }
    },
  });
}

/**
 * dynalite in its own process: for measurements, where an in-process emulator would share (and
 * skew) the event loop of the code being measured, as a remote DynamoDB would not.
 */
export async function startDynaliteProcess(): Promise<Emulator> {
  const port = await freePort();
  return startChild({
    name: "dynalite",
    args: [require.resolve("dynalite/cli.js"), "--host", HOST, "--port", String(port), "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"],
    port,
    probe: async (e) => {
      const client = new DynamoDBClient({ endpoint: e.endpoint, region: e.region, credentials: e.credentials, maxAttempts: 1 });
      try {
        await client.send(new ListTablesCommand({}), { abortSignal: AbortSignal.timeout(1_000) });
      } finally {
        client.destroy();
      }
    },
  });
}

interface ChildSpec {
  name: string;
  region?: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  port: number;
  /** Resolves once the emulator answers; throws while it does not. */
  probe: (emulator: Emulator) => Promise<void>;
}

/** Runs an emulator as a child node process and resolves once it answers on loopback. */
async function startChild(spec: ChildSpec): Promise<Emulator> {
  // Through the guard, with an IPC channel: the child ends when this process does, even on a signal.
  const child = spawn(process.execPath, [GUARD, ...spec.args], { cwd: spec.cwd, env: { ...process.env, ...spec.env }, stdio: ["ignore", "pipe", "pipe", "ipc"] });

  // Emulators write log lines to stdout and crashes to stderr; keep the tail of both for errors.
  let outputTail = "";
  const collect = (chunk: Buffer) => {
    outputTail = (outputTail + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  // "close" rather than "exit": it also waits for the output pipes to drain, so the tail is complete.
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  // If the test run dies without calling stop(), do not leave the emulator running.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const emulator: Emulator = {
    endpoint: `http://${HOST}:${spec.port}`,
    region: spec.region ?? REGION,
    credentials: DUMMY_CREDENTIALS,
    stop: async () => {
      process.removeListener("exit", killOnExit);
      await stopChild(child, exited);
    },
  };

  try {
    await waitUntilReady(spec, emulator, child, exited, () => outputTail);
  } catch (err) {
    await emulator.stop();
    throw err;
  }
  return emulator;
}

/** Probes until the emulator answers, failing fast if the child exits first. */
async function waitUntilReady(spec: ChildSpec, emulator: Emulator, child: ChildProcess, exited: Promise<void>, outputTail: () => string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let childGone = false;
  void exited.then(() => (childGone = true));
  for (;;) {
    try {
      await spec.probe(emulator);
      return;
    } catch (err) {
      const reason = childGone
        ? `exited early (code ${child.exitCode}, signal ${child.signalCode})`
        : Date.now() > deadline
          ? `did not answer on ${emulator.endpoint} within ${STARTUP_TIMEOUT_MS}ms (last error: ${String(err)})`
          : undefined;
      if (reason) throw new Error(`${spec.name} ${reason}; output tail:\n${outputTail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SIGTERM, then SIGKILL if the child ignores it; resolves only once it has exited. */
async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
  });
  if (await Promise.race([exited.then(() => false), timedOut])) {
    child.kill("SIGKILL");
    await exited;
  }
  clearTimeout(timer);
}

export function dynamoClient(e: Emulator): DynamoDBClient {
  return new DynamoDBClient({ endpoint: e.endpoint, region: e.region, credentials: e.credentials });
}

export function s3Client(e: Emulator): S3Client {
  // Virtual-hosted style would put the bucket in the hostname (bucket.127.0.0.1), which does not resolve.
  return new S3Client({ endpoint: e.endpoint, region: e.region, credentials: e.credentials, forcePathStyle: true });
}

export function sqsClient(e: Emulator): SQSClient {
  return new SQSClient({ endpoint: e.endpoint, region: e.region, credentials: e.credentials });
}

export function snsClient(e: Emulator): SNSClient {
  return new SNSClient({ endpoint: e.endpoint, region: e.region, credentials: e.credentials });
}

export function kinesisClient(e: Emulator, options: { maxAttempts?: number } = {}): KinesisClient {
  return new KinesisClient({
    endpoint: e.endpoint,
    region: e.region,
    credentials: e.credentials,
    // The SDK defaults Kinesis to an HTTP/2 handler, which kinesis-mock's plain port does not speak.
    requestHandler: new NodeHttpHandler(),
    ...options,
  });
}
