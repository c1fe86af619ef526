package dev.tracegraph;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilder;
import org.neo4j.harness.Neo4jBuilders;

/**
 * Runs a throw-away, in-process Neo4j Community server (org.neo4j.test:neo4j-harness) for
 * tracegraph's tests (DESIGN.md §5). Bolt listens on loopback only, auth is off, the HTTP
 * server is disabled and memory is kept small. Once Bolt is bound, the Bolt URI is written
 * atomically to the --uri-file; the process then blocks until SIGTERM/SIGINT (or, with
 * --exit-on-stdin-eof, until its stdin closes) and shuts the server down cleanly, deleting
 * the URI file and the server's working directory.
 *
 * <pre>
 * java -Xmx1g -cp 'target/classes:target/lib/*' dev.tracegraph.Neo4jLauncher \
 *     --uri-file PATH [--port 0] [--host 127.0.0.1] [--workdir DIR] [--pagecache 256m]
 *     [--plugins DIR] [--exit-on-stdin-eof]
 * </pre>
 *
 * --port 0 (the default) lets the kernel pick a free port, which avoids the race of choosing
 * a port first and binding it later; the URI file then holds the port actually bound.
 */
public final class Neo4jLauncher {

    private Neo4jLauncher() {}

    private static final class Options {
        Path uriFile;
        String host = "127.0.0.1";
        int port = 0;
        Path workdir;
        long pagecacheBytes = 256L * 1024 * 1024;
        Path plugins;
        boolean exitOnStdinEof;
    }

    public static void main(String[] args) {
        Options opts;
        try {
            opts = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("neo4j-launcher: " + e.getMessage());
            System.err.println(usage());
            System.exit(2);
            return;
        }
        try {
            run(opts);
        } catch (Throwable t) {
            log("FATAL: " + t);
            t.printStackTrace();
            System.exit(1);
        }
    }

    private static void run(Options opts) throws Exception {
        Instant t0 = Instant.now();
        Neo4jBuilder builder = opts.workdir == null
                ? Neo4jBuilders.newInProcessBuilder()
                : Neo4jBuilders.newInProcessBuilder(Files.createDirectories(opts.workdir));
        builder = builder
                // No web server at all (no HTTP/HTTPS connector, no browser): tests talk Bolt only.
                .withDisabledServer()
                .withConfig(BoltConnector.listen_address, new SocketAddress(opts.host, opts.port))
                .withConfig(BoltConnector.advertised_address, new SocketAddress(opts.host, opts.port))
                .withConfig(GraphDatabaseSettings.auth_enabled, false)
                // A scratch test server must not phone home.
                .withConfig(GraphDatabaseSettings.udc_enabled, false)
                .withConfig(GraphDatabaseSettings.pagecache_memory, opts.pagecacheBytes)
                // Small, fast-to-create transaction logs for a scratch database.
                .withConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                // Bolt's Netty event loops otherwise linger ~10 s on shutdown (graceful quiet
                // period); a scratch server has nothing to drain. Internal settings, hence the
                // exact version pin in pom.xml.
                .withConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .withConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(2))
                .withConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(2));
        if (opts.plugins != null) {
            // Procedure jars (APOC core); their classes are on the class path too, as in the
            // server distribution, so extensions load and procedures are found here.
            builder = builder.withConfig(GraphDatabaseSettings.plugin_dir, opts.plugins.toAbsolutePath());
        }

        Neo4j neo4j = builder.build();
        int boltPort = neo4j.boltURI().getPort();
        String hostPart = opts.host.contains(":") ? "[" + opts.host + "]" : opts.host;
        String uri = "bolt://" + hostPart + ":" + boltPort;

        // Fail here, not in the tests, if the database does not answer queries.
        String version = neo4j.defaultDatabaseService().executeTransactionally(
                "CALL dbms.components() YIELD name, versions, edition "
                        + "RETURN name + ' ' + versions[0] + ' ' + edition AS v",
                java.util.Map.of(),
                r -> r.hasNext() ? String.valueOf(r.next().get("v")) : "unknown");

        CountDownLatch stopped = new CountDownLatch(1);
        AtomicBoolean closing = new AtomicBoolean(false);
        Runnable shutdown = () -> {
            if (!closing.compareAndSet(false, true)) {
                return;
            }
            log("shutting down");
            try {
                Files.deleteIfExists(opts.uriFile);
            } catch (IOException e) {
                log("could not delete " + opts.uriFile + ": " + e);
            }
            try {
                neo4j.close();
                log("stopped cleanly");
            } catch (Throwable t) {
                log("error during shutdown: " + t);
            } finally {
                stopped.countDown();
            }
        };
        // SIGTERM / SIGINT / System.exit all run shutdown hooks.
        Runtime.getRuntime().addShutdownHook(new Thread(shutdown, "neo4j-launcher-shutdown"));

        writeAtomically(opts.uriFile, uri + "\n");
        log(version + " ready at " + uri + " in "
                + Duration.between(t0, Instant.now()).toMillis() + " ms (pid "
                + ProcessHandle.current().pid() + ", uri file " + opts.uriFile + ")");

        if (opts.exitOnStdinEof) {
            Thread watcher = new Thread(() -> {
                try {
                    InputStream in = System.in;
                    byte[] buf = new byte[256];
                    while (in.read(buf) >= 0) {
                        // discard
                    }
                } catch (IOException ignored) {
                    // treat a broken stdin like EOF
                }
                log("stdin closed");
                System.exit(0);
            }, "neo4j-launcher-stdin");
            watcher.setDaemon(true);
            watcher.start();
        }

        stopped.await();
    }

    private static void writeAtomically(Path target, String content) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir != null) {
            Files.createDirectories(dir);
        }
        Path tmp = Files.createTempFile(dir, abs.getFileName().toString(), ".tmp");
        Files.writeString(tmp, content, StandardCharsets.UTF_8);
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static Options parse(String[] args) {
        Options o = new Options();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--uri-file" -> o.uriFile = Path.of(value(args, ++i, a));
                case "--host" -> o.host = value(args, ++i, a);
                case "--port" -> {
                    String v = value(args, ++i, a);
                    try {
                        o.port = Integer.parseInt(v);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--port: not a number: " + v);
                    }
                    if (o.port < 0 || o.port > 65535) {
                        throw new IllegalArgumentException("--port: out of range: " + v);
                    }
                }
                case "--workdir" -> o.workdir = Path.of(value(args, ++i, a));
                case "--pagecache" -> o.pagecacheBytes = parseBytes(value(args, ++i, a));
                case "--plugins" -> o.plugins = Path.of(value(args, ++i, a));
                case "--exit-on-stdin-eof" -> o.exitOnStdinEof = true;
                case "-h", "--help" -> {
                    System.out.println(usage());
                    System.exit(0);
                }
                default -> throw new IllegalArgumentException("unknown argument: " + a);
            }
        }
        if (o.uriFile == null) {
            throw new IllegalArgumentException("--uri-file is required");
        }
        return o;
    }

    private static String value(String[] args, int i, String name) {
        if (i >= args.length) {
            throw new IllegalArgumentException(name + " needs a value");
        }
        return args[i];
    }

    static long parseBytes(String s) {
        String v = s.trim().toLowerCase(java.util.Locale.ROOT);
        long mult = 1;
        if (v.endsWith("k")) {
            mult = 1024L;
        } else if (v.endsWith("m")) {
            mult = 1024L * 1024;
        } else if (v.endsWith("g")) {
            mult = 1024L * 1024 * 1024;
        }
        if (mult != 1) {
            v = v.substring(0, v.length() - 1);
        }
        try {
            return Long.parseLong(v) * mult;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a size: " + s);
        }
    }

    private static String usage() {
        return "usage: Neo4jLauncher --uri-file PATH [--port N (0 = free port)] [--host 127.0.0.1]"
                + " [--workdir DIR] [--pagecache 256m] [--plugins DIR] [--exit-on-stdin-eof]";
    }

    private static void log(String msg) {
        System.out.println("[neo4j-launcher " + Instant.now() + "] " + msg);
        System.out.flush();
    }
}
