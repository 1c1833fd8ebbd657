package io.inferencejobs.storage;

import io.inferencejobs.config.AppConfig.S3Config;
import io.inferencejobs.support.BoundedExecutor;
import io.vertx.core.Future;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkServiceException;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.BucketAlreadyOwnedByYouException;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * S3 access for the service. The AWS SDK's sync client is blocking, so every call runs on the bounded {@code s3-io}
 * pool and returns a Future. Works against any S3-compatible endpoint (path-style).
 */
public final class S3Storage implements AutoCloseable {
  private final S3Client client;
  private final BoundedExecutor io;
  private final String bucket;
  private final DefaultCredentialsProvider defaultChain;

  public S3Storage(S3Config config, String endpoint, BoundedExecutor io) {
    this.bucket = config.bucket();
    this.io = io;
    this.defaultChain = config.defaultCredentials() ? DefaultCredentialsProvider.builder().build() : null;
    this.client = S3Client.builder()
        .endpointOverride(URI.create(endpoint))
        .region(Region.of(config.region()))
        // no keys configured: the default chain (environment, web identity / IRSA, instance profile, ...)
        .credentialsProvider(defaultChain != null ? defaultChain
            : StaticCredentialsProvider.create(AwsBasicCredentials.create(config.accessKey(), config.secretKey())))
        .forcePathStyle(true)
        // s3proxy and several S3-compatible servers reject the SDK's default flexible checksums
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .httpClientBuilder(UrlConnectionHttpClient.builder()
            .connectionTimeout(Duration.ofSeconds(10))
            .socketTimeout(Duration.ofSeconds(60)))
        .build();
  }

  /** A clear failure when no credentials can be had (no keys configured, and the default chain finds none). */
  public static final class NoCredentials extends RuntimeException {
    public NoCredentials(Throwable cause) {
      super("no S3 credentials: S3_ACCESS_KEY and S3_SECRET_KEY are not set, and the AWS default chain found none "
          + "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, web identity / IRSA, instance profile): " + cause.getMessage(),
          cause, false, false);
    }
  }

  /** Resolves the credentials once, so that a start without any fails saying so. */
  public Future<Void> checkCredentials() {
    return io.submit(() -> {
      if (defaultChain != null) {
        try {
          defaultChain.resolveCredentials();
        } catch (RuntimeException e) {
          throw new NoCredentials(e);
        }
      }
      return null;
    });
  }

  /** The service's own bucket (uploads, bundled models). */
  public String bucket() {
    return bucket;
  }

  public record ObjectInfo(long size, String etag) {
  }

  public Future<Void> ensureBucket(String name) {
    return io.submit(() -> {
      try {
        client.headBucket(b -> b.bucket(name));
      } catch (NoSuchBucketException e) {
        try {
          client.createBucket(b -> b.bucket(name));
        } catch (BucketAlreadyOwnedByYouException ignored) {
          // created meanwhile by another node
        }
      } catch (S3Exception e) {
        if (e.statusCode() != 404) {
          throw e;
        }
        client.createBucket(b -> b.bucket(name));
      }
      return null;
    });
  }

  public Future<Void> checkBucket() {
    return io.submit(() -> {
      client.headBucket(b -> b.bucket(bucket));
      return null;
    });
  }

  public Future<Void> putFile(S3Uri target, Path file, String contentType) {
    return io.submit(() -> {
      client.putObject(b -> b.bucket(target.bucket()).key(target.key()).contentType(contentType),
          RequestBody.fromFile(file));
      return null;
    });
  }

  public Future<Void> putBytes(S3Uri target, byte[] bytes, String contentType) {
    return io.submit(() -> {
      client.putObject(b -> b.bucket(target.bucket()).key(target.key()).contentType(contentType),
          RequestBody.fromBytes(bytes));
      return null;
    });
  }

  /** Empty when the object (or its bucket) does not exist. */
  public Future<Optional<ObjectInfo>> head(S3Uri uri) {
    return io.submit(() -> {
      try {
        HeadObjectResponse r = client.headObject(b -> b.bucket(uri.bucket()).key(uri.key()));
        return Optional.of(new ObjectInfo(r.contentLength(), r.eTag()));
      } catch (NoSuchKeyException | NoSuchBucketException e) {
        return Optional.empty();
      } catch (S3Exception e) {
        if (e.statusCode() == 404) {
          return Optional.empty();
        }
        throw e;
      }
    });
  }

  /** Every object key under the prefix, following continuation tokens (no 1000-key cap), up to {@code max}. */
  public Future<List<String>> listKeys(S3Uri prefix, int max) {
    return io.submit(() -> {
      List<String> keys = new ArrayList<>();
      String token = null;
      try {
        do {
          ListObjectsV2Request.Builder req = ListObjectsV2Request.builder().bucket(prefix.bucket())
              .prefix(prefix.key()).maxKeys(1000);
          if (token != null) {
            req.continuationToken(token);
          }
          ListObjectsV2Response page = client.listObjectsV2(req.build());
          for (S3Object o : page.contents()) {
            if (!o.key().endsWith("/")) {
              keys.add(o.key());
            }
          }
          token = Boolean.TRUE.equals(page.isTruncated()) ? page.nextContinuationToken() : null;
        } while (token != null && keys.size() <= max);
      } catch (NoSuchBucketException e) {
        return List.of();
      }
      return keys;
    });
  }

  /** An object larger than the caller takes: refused from its length, before its bytes are read. */
  public static final class TooLarge extends RuntimeException {
    public TooLarge(S3Uri uri, long size, long max, String setting) {
      super(uri + " is " + size + " bytes, more than the " + max + " that " + setting + " allows", null, false,
          false);
    }
  }

  /**
   * The whole object, if it is at most {@code maxBytes} long (else {@link TooLarge}, naming {@code setting}); only
   * then are its bytes read into memory.
   */
  public Future<byte[]> getBytes(S3Uri uri, long maxBytes, String setting) {
    return io.submit(() -> {
      try (ResponseInputStream<GetObjectResponse> in = client.getObject(b -> b.bucket(uri.bucket()).key(uri.key()))) {
        Long length = in.response().contentLength();
        if (length != null && length > maxBytes) {
          in.abort();
          throw new TooLarge(uri, length, maxBytes, setting);
        }
        byte[] bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBytes + 1));
        if (bytes.length > maxBytes) {
          in.abort();
          throw new TooLarge(uri, bytes.length, maxBytes, setting);
        }
        return bytes;
      }
    });
  }

  /** The first {@code n} bytes of an object (fewer if it is shorter); empty when it does not exist. */
  public Future<Optional<byte[]>> firstBytes(S3Uri uri, int n) {
    return io.submit(() -> {
      try (ResponseInputStream<GetObjectResponse> in = client.getObject(b -> b.bucket(uri.bucket()).key(uri.key())
          .range("bytes=0-" + (n - 1)))) {
        byte[] bytes = in.readNBytes(n);
        in.abort();
        return Optional.of(bytes);
      } catch (NoSuchKeyException | NoSuchBucketException e) {
        return Optional.<byte[]>empty();
      } catch (S3Exception e) {
        if (e.statusCode() == 404) {
          return Optional.<byte[]>empty();
        }
        if (e.statusCode() == 416) {
          return Optional.of(new byte[0]); // an empty object has no byte 0
        }
        throw e;
      }
    });
  }

  public Future<byte[]> getBytes(S3Uri uri) {
    return io.submit(() -> client.getObjectAsBytes(b -> b.bucket(uri.bucket()).key(uri.key())).asByteArray());
  }

  /** Streams the object to {@code target} (never whole in memory). */
  public Future<Void> download(S3Uri uri, Path target) {
    return io.submit(() -> {
      java.nio.file.Files.createDirectories(target.toAbsolutePath().getParent());
      java.nio.file.Files.deleteIfExists(target);
      client.getObject(b -> b.bucket(uri.bucket()).key(uri.key()), target);
      return null;
    });
  }

  /** Whether a failure says the object (or its bucket) does not exist. */
  public static boolean missing(Throwable failure) {
    Throwable t = unwrap(failure);
    return t instanceof NoSuchKeyException || t instanceof NoSuchBucketException
        || (t instanceof S3Exception e && e.statusCode() == 404);
  }

  /**
   * Whether a failure may pass if the call is made again later: the server unreachable or timing out, a 5xx, a
   * throttle, a full pool, an I/O error. Refusals that will not change (403, 400, a missing object) are not.
   */
  public static boolean transientFault(Throwable failure) {
    Throwable t = unwrap(failure);
    if (t instanceof BoundedExecutor.Overloaded || t instanceof SdkClientException
        || t instanceof java.io.IOException || t instanceof java.io.UncheckedIOException) {
      return true;
    }
    return t instanceof SdkServiceException e
        && (e.statusCode() >= 500 || e.statusCode() == 408 || e.statusCode() == 429 || e.isThrottlingException());
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof java.util.concurrent.CompletionException
        || t instanceof java.util.concurrent.ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  public Future<Void> delete(String bucketName, List<String> keys) {
    if (keys.isEmpty()) {
      return Future.succeededFuture();
    }
    return io.submit(() -> {
      // DeleteObjects takes at most 1000 keys a request
      for (int from = 0; from < keys.size(); from += 1000) {
        List<String> batch = keys.subList(from, Math.min(keys.size(), from + 1000));
        List<ObjectIdentifier> ids = batch.stream().map(k -> ObjectIdentifier.builder().key(k).build()).toList();
        try {
          client.deleteObjects(b -> b.bucket(bucketName).delete(Delete.builder().objects(ids).build()));
        } catch (S3Exception e) {
          // DeleteObjects needs a request checksum that some S3-compatible servers (s3proxy) refuse: one by one then
          for (String key : batch) {
            client.deleteObject(b -> b.bucket(bucketName).key(key));
          }
        }
      }
      return null;
    });
  }

  @Override
  public void close() {
    client.close();
  }
}
