// MQTT interceptor of the OnDijon broker (Apache ActiveMQ Artemis), registered both as an incoming and as
// an outgoing interceptor (broker.xml). `pnpm stack up` compiles this file into .stack/artemis/lib
// (infra/stack/src/artemis.ts). What it enforces (docs/security.md "MQTT"):
//
// 1. Ingest's client ids are reserved to the ingest principal (issue 12, item 7). A CONNECT whose client id
//    starts with the reserved prefix (system property `ondijon.ingestClientIdPrefix`, default
//    `ondijon-ingest`) and whose principal (item 5) is not one of `ondijon.ingestClientIdUsers` (default
//    `ingest,admin`) is refused (CONNACK 0x85) before the broker looks at the session, so no other principal
//    can take over (link stealing) or pre-empt an ingest session.
// 2. Caps per operator (every principal not listed as `exempt`), read from the generated file named by the
//    system property `ondijon.guardFile` (default `<instance>/etc/ondijon-guard.properties`;
//    infra/stack/src/operators.ts writes it from the stack's config in the primary's etc folder, and
//    infra/stack/src/artemis.ts names it to every node, the pair's backup included) and re-read within a
//    quarter of a second when it changes:
//    - `maxConnections`: live connections per operator; the next CONNECT is refused with CONNACK 0x97
//      (quota exceeded; MQTT 3.1.1: 0x03 server unavailable). A CONNECT that takes over a connection of the
//      same client id (link stealing, a gateway reconnecting) does not count twice.
//    - `maxSessionExpirySeconds`: an MQTT 5 CONNECT (or DISCONNECT) asking for a longer session expiry is
//      reduced to the cap before the broker reads it, and the CONNACK tells the client the value granted
//      (property 0x11), as MQTT 5 asks (3.2.2.3.2).
//    - `maxInflightBytes`: bytes of an operator's QoS 1/2 PUBLISHes received and not yet acknowledged, over
//      all its connections; the PUBLISH that would pass it is refused with DISCONNECT 0x97 and the
//      connection closed (the client resends what was not acknowledged when it reconnects).
// 3. Revocation without delay: the principals listed in `revoked` are refused at CONNECT and their live
//    connections are closed (DISCONNECT 0x87, then closed) as soon as the file lists them, without waiting
//    for a management call.
// 4. Client certificates on the certificate revocation list `crl` (PEM, kept by the stack's CA,
//    infra/stack/src/mqtt-tls.ts) are refused at CONNECT (CONNACK 0x87), the list re-read when it changes.
//
// 5. One identity per connection. The broker's JAAS modules (infra/artemis/login.config) try the CONNECT's
//    user name and password first and then the TLS client certificate, so a CONNECT carrying an operator's
//    certificate and a service's user name with a wrong password is logged in as the operator. Deciding by
//    the user name would then treat an operator as an exempt service (no caps, no revocation, ingest's
//    client ids). So every decision above is taken for the connection's principal: the operator its client
//    certificate maps to (the subject looked up in cert-users.properties and cert-users-grace.properties,
//    the files the broker's certificate module reads, next to the guard's file) when it carries one that
//    maps, else the user name (checked against its password by the broker right after this interceptor).
//    A CONNECT whose user name is not the certificate's operator is refused (CONNACK 0x87), whatever its
//    password: refusing is safer than ignoring the user name, as it leaves no connection whose identity
//    depends on which login module answered. And at the CONNACK, the principal the broker authenticated
//    (the connection's subject) must be the one the guard decided for; if it is not, the CONNACK is
//    replaced by a refusal (0x87) and the connection closed.
package org.ondijon.artemis;

import io.netty.channel.Channel;
import io.netty.handler.codec.mqtt.MqttConnAckMessage;
import io.netty.handler.codec.mqtt.MqttConnectMessage;
import io.netty.handler.codec.mqtt.MqttConnectReturnCode;
import io.netty.handler.codec.mqtt.MqttMessage;
import io.netty.handler.codec.mqtt.MqttMessageBuilders;
import io.netty.handler.codec.mqtt.MqttMessageIdVariableHeader;
import io.netty.handler.codec.mqtt.MqttMessageType;
import io.netty.handler.codec.mqtt.MqttProperties;
import io.netty.handler.codec.mqtt.MqttPublishMessage;
import io.netty.handler.codec.mqtt.MqttQoS;
import io.netty.handler.codec.mqtt.MqttReasonCodeAndPropertiesVariableHeader;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Principal;
import java.security.cert.CRL;
import java.security.cert.CertificateFactory;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.security.auth.Subject;
import javax.security.auth.x500.X500Principal;
import org.apache.activemq.artemis.api.core.ActiveMQException;
import org.apache.activemq.artemis.core.protocol.mqtt.MQTTInterceptor;
import org.apache.activemq.artemis.core.remoting.CertificateUtil;
import org.apache.activemq.artemis.core.remoting.impl.netty.NettyConnection;
import org.apache.activemq.artemis.spi.core.protocol.RemotingConnection;

public class ClientIdGuard implements MQTTInterceptor {
  private static final byte QUOTA_EXCEEDED = (byte) 0x97;
  private static final byte NOT_AUTHORIZED = (byte) 0x87;
  private static final int SESSION_EXPIRY_INTERVAL = 0x11;
  private static final int REASON_STRING = 0x1F;

  private final String prefix = System.getProperty("ondijon.ingestClientIdPrefix", "ondijon-ingest");
  private final Set<String> users = csv(System.getProperty("ondijon.ingestClientIdUsers", "ingest,admin"));

  /** The caps, revocations and connections, shared by the incoming and the outgoing instance. */
  private static final State STATE = new State();

  @Override
  public boolean intercept(MqttMessage packet, RemotingConnection connection) {
    if (packet.fixedHeader() == null) return true;
    switch (packet.fixedHeader().messageType()) {
      case CONNECT:
        return onConnect((MqttConnectMessage) packet, connection);
      case PUBLISH:
        return STATE.onPublish((MqttPublishMessage) packet, connection);
      case DISCONNECT:
        STATE.onDisconnect(packet, connection);
        return true;
      default:
        return true;
    }
  }

  private boolean onConnect(MqttConnectMessage connect, RemotingConnection connection) {
    String clientId = connect.payload().clientIdentifier();
    String user = connect.payload().userName();
    int version = connect.variableHeader().version();
    X509Certificate peer = peerCertificate(connection);
    String certOperator = STATE.certificateOperator(peer);
    if (certOperator != null && user != null && !user.equals(certOperator)) {
      log("refused CONNECT by user " + user + " from " + connection.getRemoteAddress()
          + ": its client certificate is operator " + certOperator + "'s");
      refuseConnect(connection, version, NOT_AUTHORIZED, MqttConnectReturnCode.CONNECTION_REFUSED_NOT_AUTHORIZED,
          "user name is not the client certificate's operator");
      return false;
    }
    // The principal of the connection: the certificate's operator, else the user name (item 5 above).
    String who = certOperator != null ? certOperator : user != null ? user : commonName(peer);
    if (!mayUseClientId(clientId, who)) {
      log("refused CONNECT of client id " + clientId + " by " + who + " from "
          + connection.getRemoteAddress() + " (client ids starting with " + prefix
          + " are reserved to " + users + ")");
      refuseConnect(connection, version, (byte) 0x85, MqttConnectReturnCode.CONNECTION_REFUSED_IDENTIFIER_REJECTED,
          "client id reserved");
      return false;
    }
    return STATE.onConnect(connect, connection, clientId, who, peer, version);
  }

  private boolean mayUseClientId(String clientId, String who) {
    return clientId == null || !clientId.startsWith(prefix) || (who != null && users.contains(who));
  }

  /** Outgoing packets: CONNACK (a connection counts once the broker accepted it) and acknowledgements. */
  public static class Outgoing implements MQTTInterceptor {
    @Override
    public boolean intercept(MqttMessage packet, RemotingConnection connection) {
      if (packet.fixedHeader() == null) return true;
      switch (packet.fixedHeader().messageType()) {
        case CONNACK:
          return STATE.onConnack((MqttConnAckMessage) packet, connection);
        case PUBACK:
        case PUBREC:
          if (packet.variableHeader() instanceof MqttMessageIdVariableHeader id)
            STATE.onAck(id.messageId(), connection);
          return true;
        default:
          return true;
      }
    }
  }

  /** One connection of a capped principal. */
  private static final class Tracked {
    final RemotingConnection connection;
    final String clientId;
    volatile String user;
    volatile boolean established;
    volatile long grantedExpiry = -1;
    final int version;
    final Map<Integer, Integer> inflight = new ConcurrentHashMap<>();

    Tracked(RemotingConnection connection, String clientId, String user, int version) {
      this.connection = connection;
      this.version = version;
      this.clientId = clientId;
      this.user = user;
    }

    boolean open() {
      return !connection.isDestroyed()
          && connection.getTransportConnection() != null
          && connection.getTransportConnection().isOpen();
    }

    long inflightBytes() {
      long sum = 0;
      for (int b : inflight.values()) sum += b;
      return sum;
    }
  }

  private static final class State {
    private final Path file;
    private volatile long fileStamp = Long.MIN_VALUE;
    private volatile long crlStamp = Long.MIN_VALUE;
    private volatile int maxConnections = -1;
    private volatile long maxSessionExpiry = -1;
    private volatile long maxInflightBytes = -1;
    private volatile Set<String> exempt = Set.of("admin", "ingest", "replay");
    private volatile Set<String> revoked = Set.of();
    private volatile Path crlFile;
    private volatile X509CRL crl;
    /** Operator by client certificate subject, from the broker's certificate login files. */
    private volatile Map<X500Principal, String> certUsers = Map.of();
    private final Map<Path, Long> certStamps = new ConcurrentHashMap<>();
    private final Map<Object, Tracked> connections = new ConcurrentHashMap<>();

    State() {
      String explicit = System.getProperty("ondijon.guardFile");
      String etc = System.getProperty("artemis.instance.etc", ".");
      file = Path.of(explicit != null ? explicit : etc + "/ondijon-guard.properties");
      log("guard file " + file);
      reload();
      ScheduledExecutorService timer =
          Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "ondijon-guard");
                t.setDaemon(true);
                return t;
              });
      timer.scheduleWithFixedDelay(this::tick, 250, 250, TimeUnit.MILLISECONDS);
    }

    private void tick() {
      try {
        reload();
        connections.values().removeIf(t -> !t.open());
        if (!revoked.isEmpty())
          for (Tracked t : List.copyOf(connections.values()))
            if (t.user != null && revoked.contains(t.user)) closeRevoked(t);
      } catch (Throwable e) {
        log("guard tick failed: " + e);
      }
    }

    private static long stamp(Path p) {
      try {
        return Files.getLastModifiedTime(p).toMillis() ^ Files.size(p) << 40;
      } catch (Exception e) {
        return -1;
      }
    }

    private synchronized void reload() {
      long s = stamp(file);
      if (s != fileStamp) {
        fileStamp = s;
        Properties p = new Properties();
        if (s != -1)
          try (InputStream in = Files.newInputStream(file)) {
            p.load(in);
          } catch (Exception e) {
            log("could not read " + file + ": " + e);
          }
        maxConnections = Integer.parseInt(p.getProperty("maxConnections", "-1").trim());
        maxSessionExpiry = Long.parseLong(p.getProperty("maxSessionExpirySeconds", "-1").trim());
        maxInflightBytes = Long.parseLong(p.getProperty("maxInflightBytes", "-1").trim());
        exempt = csv(p.getProperty("exempt", "admin,ingest,replay"));
        revoked = csv(p.getProperty("revoked", ""));
        String c = p.getProperty("crl", "").trim();
        crlFile = c.isEmpty() ? null : Path.of(c);
        crlStamp = Long.MIN_VALUE;
        log("caps: maxConnections=" + maxConnections + " maxSessionExpirySeconds=" + maxSessionExpiry
            + " maxInflightBytes=" + maxInflightBytes + " exempt=" + exempt + " revoked=" + revoked.size()
            + " crl=" + crlFile);
      }
      reloadCertUsers();
      Path cf = crlFile;
      long cs = cf == null ? -1 : stamp(cf);
      if (cs != crlStamp) {
        crlStamp = cs;
        X509CRL loaded = null;
        if (cs != -1)
          try (InputStream in = Files.newInputStream(cf)) {
            Collection<? extends CRL> all = CertificateFactory.getInstance("X.509").generateCRLs(in);
            for (CRL one : all) if (one instanceof X509CRL x) loaded = x;
          } catch (Exception e) {
            log("could not read the CRL " + cf + ": " + e);
          }
        crl = loaded;
      }
    }

    /**
     * The certificate login files (infra/artemis/login.config), next to the guard's file; re-read when they
     * change (checked at every CONNECT, as the broker's module does with reload=true).
     */
    private synchronized void reloadCertUsers() {
      Path dir = file.toAbsolutePath().getParent();
      List<Path> files = List.of(dir.resolve("cert-users.properties"), dir.resolve("cert-users-grace.properties"));
      boolean changed = false;
      for (Path f : files) {
        long s = stamp(f);
        Long before = certStamps.put(f, s);
        if (before == null || before != s) changed = true;
      }
      if (!changed) return;
      Map<X500Principal, String> loaded = new ConcurrentHashMap<>();
      for (Path f : files) {
        if (!Files.exists(f)) continue;
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(f)) {
          p.load(in);
        } catch (Exception e) {
          log("could not read " + f + ": " + e);
          continue;
        }
        for (String user : p.stringPropertyNames())
          try {
            loaded.putIfAbsent(new X500Principal(p.getProperty(user).trim()), user.trim());
          } catch (IllegalArgumentException e) {
            log("not a subject in " + f + " for " + user + ": " + e.getMessage());
          }
      }
      certUsers = loaded;
    }

    /** The operator a client certificate logs in as (the broker's certificate module), or null. */
    String certificateOperator(X509Certificate peer) {
      if (peer == null) return null;
      reloadCertUsers();
      return certUsers.get(peer.getSubjectX500Principal());
    }

    private boolean capped(String user) {
      return user != null && !exempt.contains(user);
    }

    boolean onConnect(MqttConnectMessage connect, RemotingConnection connection, String clientId, String who,
        X509Certificate peer, int version) {
      X509CRL list = crl;
      if (peer != null && list != null && list.isRevoked(peer)) {
        log("refused CONNECT from " + connection.getRemoteAddress() + ": client certificate serial "
            + peer.getSerialNumber().toString(16) + " is on the CRL");
        refuseConnect(connection, version, NOT_AUTHORIZED, MqttConnectReturnCode.CONNECTION_REFUSED_NOT_AUTHORIZED,
            "certificate revoked");
        return false;
      }
      if (who != null && revoked.contains(who)) {
        refuseConnect(connection, version, NOT_AUTHORIZED, MqttConnectReturnCode.CONNECTION_REFUSED_NOT_AUTHORIZED,
            "revoked");
        return false;
      }
      // Every connection is followed until its CONNACK, where the broker's principal is checked against who.
      Tracked mine = new Tracked(connection, clientId, who, version);
      if (!capped(who)) {
        connections.put(connection.getID(), mine);
        return true;
      }
      synchronized (this) {
        int max = maxConnections;
        if (max >= 0) {
          long live = connections.values().stream()
              .filter(t -> who.equals(t.user) && t.open() && t.connection != connection)
              // A CONNECT with the client id of a live connection takes that one over (link stealing).
              .filter(t -> clientId == null || clientId.isEmpty() || !clientId.equals(t.clientId))
              .count();
          if (live >= max) {
            log("refused CONNECT of " + who + " from " + connection.getRemoteAddress() + ": " + live
                + " live connections, cap " + max);
            refuseConnect(connection, version, QUOTA_EXCEEDED, MqttConnectReturnCode.CONNECTION_REFUSED_SERVER_UNAVAILABLE,
                "connection cap of the operator reached (" + max + ")");
            return false;
          }
        }
        connections.put(connection.getID(), mine);
      }
      long cap = maxSessionExpiry;
      if (version == 5 && cap >= 0) {
        MqttProperties props = connect.variableHeader().properties();
        MqttProperties.MqttProperty<?> asked = props.getProperty(SESSION_EXPIRY_INTERVAL);
        if (asked != null && Integer.toUnsignedLong((Integer) asked.value()) > cap) {
          props.add(new MqttProperties.IntegerProperty(SESSION_EXPIRY_INTERVAL, (int) cap));
          mine.grantedExpiry = cap;
        }
      }
      return true;
    }

    /** False when the CONNACK must not reach the client (the guard refused the connection instead). */
    boolean onConnack(MqttConnAckMessage connack, RemotingConnection connection) {
      Tracked t = connections.get(connection.getID());
      if (t == null) return true;
      if (connack.variableHeader().connectReturnCode() != MqttConnectReturnCode.CONNECTION_ACCEPTED) {
        connections.remove(connection.getID());
        return true;
      }
      String authenticated = userOf(connection.getSubject());
      if (authenticated == null || !authenticated.equals(t.user)) {
        // The broker logged in someone else than the principal the guard decided for (or nobody it can
        // name): the caps, revocation and reserved client ids would not hold. Refuse instead.
        connections.remove(connection.getID());
        log("refused the connection of " + authenticated + " from " + connection.getRemoteAddress()
            + ": the guard decided for " + t.user);
        refuseConnect(connection, t.version, NOT_AUTHORIZED,
            MqttConnectReturnCode.CONNECTION_REFUSED_NOT_AUTHORIZED, "authenticated principal not the one checked");
        connection.fail(new ActiveMQException("authenticated principal " + authenticated + " is not " + t.user));
        return false;
      }
      if (!capped(t.user)) {
        connections.remove(connection.getID());
        return true;
      }
      t.established = true;
      if (t.grantedExpiry >= 0) {
        MqttProperties props = connack.variableHeader().properties();
        if (props != MqttProperties.NO_PROPERTIES)
          props.add(new MqttProperties.IntegerProperty(SESSION_EXPIRY_INTERVAL, (int) t.grantedExpiry));
      }
      return true;
    }

    void onDisconnect(MqttMessage disconnect, RemotingConnection connection) {
      Tracked t = connections.get(connection.getID());
      long cap = maxSessionExpiry;
      if (t == null || cap < 0) return;
      if (disconnect.variableHeader() instanceof MqttReasonCodeAndPropertiesVariableHeader h) {
        MqttProperties.MqttProperty<?> asked = h.properties().getProperty(SESSION_EXPIRY_INTERVAL);
        if (asked != null && Integer.toUnsignedLong((Integer) asked.value()) > cap)
          h.properties().add(new MqttProperties.IntegerProperty(SESSION_EXPIRY_INTERVAL, (int) cap));
      }
    }

    boolean onPublish(MqttPublishMessage publish, RemotingConnection connection) {
      if (publish.fixedHeader().qosLevel() == MqttQoS.AT_MOST_ONCE) return true;
      Tracked t = connections.get(connection.getID());
      long cap = maxInflightBytes;
      if (t == null || cap < 0 || !capped(t.user)) return true;
      int bytes = publish.payload().readableBytes() + publish.variableHeader().topicName().length();
      synchronized (this) {
        long used = 0;
        for (Tracked o : connections.values()) if (t.user != null && t.user.equals(o.user)) used += o.inflightBytes();
        if (used + bytes > cap) {
          log("closed a connection of " + t.user + ": " + (used + bytes) + " bytes unacknowledged, cap " + cap);
          sendDisconnect(connection, t.version, QUOTA_EXCEEDED, "unacknowledged bytes cap of the operator reached (" + cap + ")");
          return false;
        }
        t.inflight.put(publish.variableHeader().packetId(), bytes);
      }
      return true;
    }

    void onAck(int packetId, RemotingConnection connection) {
      Tracked t = connections.get(connection.getID());
      if (t != null) t.inflight.remove(packetId);
    }

    private void closeRevoked(Tracked t) {
      if (connections.remove(t.connection.getID()) == null) return;
      log("closing a connection of revoked principal " + t.user + " from " + t.connection.getRemoteAddress());
      sendDisconnect(t.connection, t.version, NOT_AUTHORIZED, "credentials revoked");
      t.connection.fail(new ActiveMQException("credentials of " + t.user + " revoked"));
    }
  }

  private static String userOf(Subject subject) {
    if (subject == null) return null;
    for (Principal p : subject.getPrincipals())
      if (p.getClass().getSimpleName().equals("UserPrincipal")) return p.getName();
    return null;
  }

  private static X509Certificate peerCertificate(RemotingConnection connection) {
    X509Certificate[] certs = CertificateUtil.getCertsFromConnection(connection);
    return certs != null && certs.length > 0 ? certs[0] : null;
  }

  private static String commonName(X509Certificate cert) {
    if (cert == null) return null;
    for (String part : cert.getSubjectX500Principal().getName().split(","))
      if (part.trim().startsWith("CN=")) return part.trim().substring(3);
    return null;
  }

  private static Channel channelOf(RemotingConnection connection) {
    return connection.getTransportConnection() instanceof NettyConnection n ? n.getChannel() : null;
  }

  /** Answers a refused CONNECT with a CONNACK (MQTT 5 reason code, or the 3.1.1 return code). */
  private static void refuseConnect(RemotingConnection connection, int version, byte reason5,
      MqttConnectReturnCode code3, String why) {
    Channel channel = channelOf(connection);
    if (channel == null) return;
    MqttProperties props = new MqttProperties();
    if (version == 5) props.add(new MqttProperties.StringProperty(REASON_STRING, why));
    channel.writeAndFlush(MqttMessageBuilders.connAck()
        .returnCode(version == 5 ? MqttConnectReturnCode.valueOf(reason5) : code3)
        .sessionPresent(false)
        .properties(props)
        .build());
  }

  /** Tells an MQTT 5 client why the broker closes its connection (nothing for 3.1.1: no server DISCONNECT). */
  private static void sendDisconnect(RemotingConnection connection, int version, byte reason, String why) {
    Channel channel = channelOf(connection);
    if (channel == null || version != 5) return;
    MqttProperties props = new MqttProperties();
    props.add(new MqttProperties.StringProperty(REASON_STRING, why));
    channel.writeAndFlush(MqttMessageBuilders.disconnect().reasonCode(reason).properties(props).build());
  }

  private static Set<String> csv(String value) {
    return Arrays.stream(value.split(",")).map(String::trim).filter(s -> !s.isEmpty()).collect(Collectors.toSet());
  }

  private static void log(String line) {
    System.out.println("ONDIJON broker guard: " + line);
  }
}
