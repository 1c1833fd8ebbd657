package io.inferencejobs.storage;

import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/** A real S3 server (s3proxy, filesystem backend) started in-process. Blocking: call off the event loop. */
public final class EmbeddedS3Server implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedS3Server.class);

  private final S3Proxy proxy;
  private final BlobStoreContext context;

  private EmbeddedS3Server(S3Proxy proxy, BlobStoreContext context) {
    this.proxy = proxy;
    this.context = context;
  }

  public static EmbeddedS3Server start(Path dataDir, int port, String accessKey, String secretKey) throws Exception {
    Path base = dataDir.resolve("s3");
    Files.createDirectories(base);
    long t0 = System.nanoTime();
    Properties props = new Properties();
    props.setProperty("jclouds.filesystem.basedir", base.toString());
    BlobStoreContext context = ContextBuilder.newBuilder("filesystem").overrides(props)
        .buildView(BlobStoreContext.class);
    S3Proxy proxy = S3Proxy.builder()
        .blobStore(context.getBlobStore())
        .endpoint(URI.create("http://127.0.0.1:" + port))
        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, accessKey, secretKey)
        // large uploads are sent as one signed request
        .v4MaxNonChunkedRequestSize(8L * 1024 * 1024 * 1024)
        .build();
    proxy.start();
    LOG.info("embedded S3 server on http://127.0.0.1:{} (data {}) in {} ms", proxy.getPort(), base,
        (System.nanoTime() - t0) / 1_000_000);
    return new EmbeddedS3Server(proxy, context);
  }

  public String endpoint() {
    return "http://127.0.0.1:" + proxy.getPort();
  }

  @Override
  public void close() throws Exception {
    proxy.stop();
    context.close();
  }
}
