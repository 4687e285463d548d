// Adds SCRAM-SHA-512 credentials to a running Kafka through the Admin API (AlterUserScramCredentials),
// for principals added to the pipeline after the storage was formatted (infra/stack kafka.ts). Run as a
// single-file source program on the broker's own jars. Everything comes on stdin, never on the command
// line: first line the bootstrap server, then the super user and its password, then one line per user
// and password, tab-separated.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;

public class AddScramUsers {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String bootstrap = in.readLine();
    String[] admin = in.readLine().split("\t", 2);
    List<UserScramCredentialAlteration> alterations = new ArrayList<>();
    for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
      String[] user = line.split("\t", 2);
      alterations.add(new UserScramCredentialUpsertion(
          user[0], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), user[1]));
    }
    Properties props = new Properties();
    props.put("bootstrap.servers", bootstrap);
    props.put("security.protocol", "SASL_PLAINTEXT");
    props.put("sasl.mechanism", "SCRAM-SHA-512");
    props.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
        + admin[0].replace("\"", "\\\"") + "\" password=\"" + admin[1].replace("\"", "\\\"") + "\";");
    try (Admin client = Admin.create(props)) {
      client.alterUserScramCredentials(alterations).all().get();
    }
    System.out.println("added " + alterations.size());
  }
}
