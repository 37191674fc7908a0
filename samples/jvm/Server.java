import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;

/** A plain JVM web app on the JDK's own HTTP server: it knows nothing about functions or containers. */
public final class Server {
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"));
    long startupDelayMs = Long.parseLong(System.getenv().getOrDefault("STARTUP_DELAY_MS", "0"));
    Thread.sleep(startupDelayMs);

    HttpServer server = HttpServer.create(new InetSocketAddress(port), 256);
    server.setExecutor(Executors.newCachedThreadPool());
    server.createContext("/", Server::handle);
    server.start();
    System.out.println("jvm sample listening on " + port);
  }

  private static void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      String method = exchange.getRequestMethod();
      URI uri = exchange.getRequestURI();
      String path = uri.getPath();
      if (path.equals("/") && method.equals("GET")) {
        send(exchange, 200, "text/plain", "hello from jvm\n".getBytes(StandardCharsets.UTF_8));
      } else if (path.equals("/echo") && method.equals("POST")) {
        byte[] body = exchange.getRequestBody().readAllBytes();
        String type = exchange.getRequestHeaders().getFirst("Content-Type");
        send(exchange, 200, type == null ? "application/octet-stream" : type, body);
      } else if (path.equals("/slow") && method.equals("GET")) {
        long ms = Long.parseLong(query(uri).getOrDefault("ms", "1000"));
        Thread.sleep(ms);
        send(exchange, 200, "text/plain", ("slept " + ms + " ms\n").getBytes(StandardCharsets.UTF_8));
      } else if (path.equals("/stream") && method.equals("GET")) {
        stream(exchange, query(uri));
      } else if (path.equals("/env") && method.equals("GET")) {
        send(exchange, 200, "application/json", envJson().getBytes(StandardCharsets.UTF_8));
      } else if (path.equals("/crash")) {
        System.err.println("crashing on request");
        Runtime.getRuntime().halt(3);
      } else {
        send(exchange, 404, "text/plain", "not found\n".getBytes(StandardCharsets.UTF_8));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void stream(HttpExchange exchange, Map<String, String> query)
      throws IOException, InterruptedException {
    int count = Integer.parseInt(query.getOrDefault("count", "5"));
    long interval = Long.parseLong(query.getOrDefault("interval", "100"));
    exchange.getResponseHeaders().set("Content-Type", "text/plain");
    exchange.sendResponseHeaders(200, 0);
    OutputStream out = exchange.getResponseBody();
    for (int i = 0; i < count; i++) {
      out.write(("chunk " + i + "\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
      Thread.sleep(interval);
    }
    out.close();
  }

  private static void send(HttpExchange exchange, int status, String type, byte[] body) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", type);
    exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    if (body.length > 0) exchange.getResponseBody().write(body);
  }

  private static Map<String, String> query(URI uri) {
    Map<String, String> result = new HashMap<>();
    String raw = uri.getRawQuery();
    if (raw == null) return result;
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      if (eq > 0) result.put(pair.substring(0, eq), pair.substring(eq + 1));
    }
    return result;
  }

  private static String envJson() {
    StringBuilder json = new StringBuilder("{");
    for (Map.Entry<String, String> entry : System.getenv().entrySet()) {
      if (json.length() > 1) json.append(',');
      json.append(quote(entry.getKey())).append(':').append(quote(entry.getValue()));
    }
    return json.append('}').toString();
  }

  private static String quote(String value) {
    StringBuilder out = new StringBuilder("\"");
    for (char c : value.toCharArray()) {
      if (c == '"' || c == '\\') out.append('\\').append(c);
      else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
      else out.append(c);
    }
    return out.append('"').toString();
  }
}
