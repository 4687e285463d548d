// Management client of the OnDijon MQTT broker (Apache ActiveMQ Artemis), run by `pnpm operators` as
// `java -cp "<classes>:<artemis>/lib/*" ArtemisAdmin <url> <user> <password-file> <op[|arg]...>...`
// (compiled once by `pnpm operators` into .stack/artemis/tools). It logs in over the broker's loopback-only
// core-protocol acceptor as the admin principal and invokes each broker operation in turn through the
// management address (closeConnectionsForUser, reloadConfigurationFile, clearAuthenticationCache, ...),
// printing one line per operation: `<operation>\t<result>`. Any failure exits non-zero with one line on
// stderr. The password is read from its file, never from the command line.
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.activemq.artemis.api.core.client.ActiveMQClient;
import org.apache.activemq.artemis.api.core.client.ClientMessage;
import org.apache.activemq.artemis.api.core.client.ClientRequestor;
import org.apache.activemq.artemis.api.core.client.ClientSession;
import org.apache.activemq.artemis.api.core.client.ClientSessionFactory;
import org.apache.activemq.artemis.api.core.client.ServerLocator;
import org.apache.activemq.artemis.api.core.management.ManagementHelper;
import org.apache.activemq.artemis.api.core.management.ResourceNames;

public class ArtemisAdmin {
  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      System.err.println("usage: ArtemisAdmin <url> <user> <password-file> <operation[|argument...]>...");
      System.exit(64);
    }
    String password = Files.readString(Path.of(args[2])).trim();
    try (ServerLocator locator = ActiveMQClient.createServerLocator(args[0]);
        ClientSessionFactory factory = locator.createSessionFactory();
        ClientSession session = factory.createSession(args[1], password, false, true, true, false, 1)) {
      session.start();
      ClientRequestor requestor = new ClientRequestor(session, "activemq.management");
      try {
        for (int i = 3; i < args.length; i++) {
          // `operation|arg|arg`: integers are passed as int, everything else as a string.
          String[] call = args[i].split("\\|", -1);
          Object[] params = new Object[call.length - 1];
          for (int p = 1; p < call.length; p++)
            params[p - 1] = call[p].matches("-?\\d{1,9}") ? (Object) Integer.valueOf(call[p]) : call[p];
          ClientMessage request = session.createMessage(false);
          ManagementHelper.putOperationInvocation(request, ResourceNames.BROKER, call[0], params);
          ClientMessage reply = requestor.request(request, 10_000);
          if (reply == null) {
            System.err.println(call[0] + ": the broker did not answer within 10 s");
            System.exit(2);
          }
          Object result = ManagementHelper.getResult(reply);
          if (!ManagementHelper.hasOperationSucceeded(reply)) {
            System.err.println(call[0] + " failed: " + result);
            System.exit(2);
          }
          System.out.println(call[0] + "\t" + String.valueOf(result).replace('\n', ' '));
        }
      } finally {
        requestor.close();
      }
    }
  }
}
