// MQTT interceptor of the OnDijon broker (Apache ActiveMQ Artemis): ingest's client ids are reserved to
// the ingest principal (issue 12, item 7). A CONNECT whose client id starts with the reserved prefix
// (system property `ondijon.ingestClientIdPrefix`, default `ondijon-ingest`) and whose user name is not
// one of `ondijon.ingestClientIdUsers` (default `ingest,admin`) is rejected before the broker looks at
// the session, so no other principal can take over (link stealing) or pre-empt an ingest session. The
// user name is checked against its password by the broker right after: claiming `ingest` without its
// password fails there. `pnpm stack up` compiles this file into .stack/artemis/lib (infra/stack/src/artemis.ts).
package org.ondijon.artemis;

import io.netty.handler.codec.mqtt.MqttConnectMessage;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageType;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.activemq.artemis.core.protocol.mqtt.MQTTInterceptor;
import org.apache.activemq.artemis.spi.core.protocol.RemotingConnection;

public class ClientIdGuard implements MQTTInterceptor {
  private final String prefix = System.getProperty("ondijon.ingestClientIdPrefix", "ondijon-ingest");
  private final Set<String> users =
      Arrays.stream(System.getProperty("ondijon.ingestClientIdUsers", "ingest,admin").split(","))
          .map(String::trim)
          .filter(s -> !s.isEmpty())
          .collect(Collectors.toSet());

  @Override
  public boolean intercept(MqttMessage packet, RemotingConnection connection) {
    if (packet.fixedHeader() == null || packet.fixedHeader().messageType() != MqttMessageType.CONNECT)
      return true;
    MqttConnectMessage connect = (MqttConnectMessage) packet;
    String clientId = connect.payload().clientIdentifier();
    String user = connect.payload().userName();
    if (clientId != null && clientId.startsWith(prefix) && (user == null || !users.contains(user))) {
      System.out.println(
          "ONDIJON client id guard: refused CONNECT of client id "
              + clientId
              + " by user "
              + user
              + " from "
              + connection.getRemoteAddress()
              + " (client ids starting with "
              + prefix
              + " are reserved to "
              + users
              + ")");
      return false;
    }
    return true;
  }
}
