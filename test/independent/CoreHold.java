// Independent core-protocol client of the revocation test (test/security/mqtt-operators.int.test.ts):
// Artemis' own client library, not the project's code. It logs in to the broker over the core protocol
// (the loopback management acceptor, which the MQTT guard infra/artemis/ClientIdGuard.java never sees)
// with a user name and the password of a file, prints `connected`, then waits until the broker closes
// the connection (prints `closed`) or SECONDS pass (prints `still_connected`).
//
//   java -cp "<classes>:<artemis>/lib/*" CoreHold <url> <user> <password-file> <seconds>
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.activemq.artemis.api.core.ActiveMQException;
import org.apache.activemq.artemis.api.core.client.ActiveMQClient;
import org.apache.activemq.artemis.api.core.client.ClientSession;
import org.apache.activemq.artemis.api.core.client.ClientSessionFactory;
import org.apache.activemq.artemis.api.core.client.ServerLocator;
import org.apache.activemq.artemis.api.core.client.SessionFailureListener;

public class CoreHold {
  public static void main(String[] args) throws Exception {
    if (args.length != 4) {
      System.err.println("usage: CoreHold <url> <user> <password-file> <seconds>");
      System.exit(64);
    }
    String password = Files.readString(Path.of(args[2])).trim();
    CountDownLatch closed = new CountDownLatch(1);
    try (ServerLocator locator = ActiveMQClient.createServerLocator(args[0]).setReconnectAttempts(0);
        ClientSessionFactory factory = locator.createSessionFactory();
        ClientSession session = factory.createSession(args[1], password, false, true, true, false, 1)) {
      session.addFailureListener(
          new SessionFailureListener() {
            @Override
            public void connectionFailed(ActiveMQException e, boolean failedOver) {
              closed.countDown();
            }

            @Override
            public void connectionFailed(ActiveMQException e, boolean failedOver, String scaleDownTargetNodeID) {
              closed.countDown();
            }

            @Override
            public void beforeReconnect(ActiveMQException e) {}
          });
      System.out.println("connected");
      System.out.flush();
      System.out.println(closed.await(Long.parseLong(args[3]), TimeUnit.SECONDS) ? "closed" : "still_connected");
      System.out.flush();
    } catch (ActiveMQException e) {
      // Closing a session whose connection the broker closed fails: the answer is already printed.
      if (closed.getCount() > 0) throw e;
    }
  }
}
