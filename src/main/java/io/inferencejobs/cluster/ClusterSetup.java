package io.inferencejobs.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.XmlConfigBuilder;
import io.inferencejobs.config.AppConfig.ClusterConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A clustered Vert.x on Hazelcast: the XML file gives the structure (cluster/hazelcast.xml, or its copy in the jar),
 * the settings give this member's interface, port, cluster name and TCP-IP members.
 */
public final class ClusterSetup {
  private ClusterSetup() {
  }

  /** {@code metrics}: Vert.x's metrics factory, or null for none. */
  public static Future<Vertx> start(ClusterConfig cluster, VertxOptions options,
                                    io.vertx.core.spi.VertxMetricsFactory metrics) {
    Config hz;
    try {
      hz = load(cluster.configFile());
    } catch (IOException e) {
      return Future.failedFuture(new IllegalStateException("cannot read " + cluster.configFile() + ": "
          + e.getMessage(), e));
    }
    hz.setClusterName(cluster.name());
    hz.setProperty("hazelcast.phone.home.enabled", "false");
    hz.setProperty("hazelcast.logging.type", "slf4j");
    hz.getNetworkConfig().setPort(cluster.port()).setPortAutoIncrement(false);
    hz.getNetworkConfig().setPublicAddress(cluster.advertisedHost() + ":" + cluster.port());
    hz.getNetworkConfig().getInterfaces().setEnabled(true).setInterfaces(java.util.List.of(cluster.host()));
    JoinConfig join = hz.getNetworkConfig().getJoin();
    if (join.getTcpIpConfig().isEnabled()) {
      join.getTcpIpConfig().setMembers(new java.util.ArrayList<>(cluster.members()));
    }
    // a fixed event-bus port (cluster.bus_port), so that a firewall rule can name it; 0 picks a free one
    options.getEventBusOptions().setHost(cluster.host()).setPort(cluster.busPort())
        .setClusterPublicHost(cluster.advertisedHost());
    if (cluster.busPort() > 0) {
      options.getEventBusOptions().setClusterPublicPort(cluster.busPort());
    }
    var builder = Vertx.builder().with(options).withClusterManager(new HazelcastClusterManager(hz));
    return (metrics == null ? builder : builder.withMetrics(metrics)).buildClustered();
  }

  static Config load(String file) throws IOException {
    Path path = file == null || file.isBlank() ? null : Path.of(file);
    if (path != null && Files.isRegularFile(path)) {
      try (InputStream in = Files.newInputStream(path)) {
        return new XmlConfigBuilder(in).build();
      }
    }
    try (InputStream in = ClusterSetup.class.getResourceAsStream("/cluster/hazelcast.xml")) {
      if (in == null) {
        throw new IOException("no cluster/hazelcast.xml in the working directory nor in the jar");
      }
      return new XmlConfigBuilder(in).build();
    }
  }
}
