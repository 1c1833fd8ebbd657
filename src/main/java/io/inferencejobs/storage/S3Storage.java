package io.inferencejobs.storage;

import io.inferencejobs.config.AppConfig.S3Config;
import io.inferencejobs.support.BoundedExecutor;
import io.vertx.core.Future;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.BucketAlreadyOwnedByYouException;
import software.amazon.awssdk.services.s3.model.Delete;
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

  public S3Storage(S3Config config, String endpoint, BoundedExecutor io) {
    this.bucket = config.bucket();
    this.io = io;
    this.client = S3Client.builder()
        .endpointOverride(URI.create(endpoint))
        .region(Region.of(config.region()))
        .credentialsProvider(StaticCredentialsProvider.create(
            AwsBasicCredentials.create(config.accessKey(), config.secretKey())))
        .forcePathStyle(true)
        // s3proxy and several S3-compatible servers reject the SDK's default flexible checksums
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .httpClientBuilder(UrlConnectionHttpClient.builder()
            .connectionTimeout(Duration.ofSeconds(10))
            .socketTimeout(Duration.ofSeconds(60)))
        .build();
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

  public Future<byte[]> getBytes(S3Uri uri) {
    return io.submit(() -> client.getObjectAsBytes(b -> b.bucket(uri.bucket()).key(uri.key())).asByteArray());
  }

  /** Blocking variant for callers already on a worker thread. */
  public byte[] getBytesBlocking(S3Uri uri) {
    return client.getObjectAsBytes(b -> b.bucket(uri.bucket()).key(uri.key())).asByteArray();
  }

  public Future<Void> download(S3Uri uri, Path target) {
    return io.submit(() -> {
      java.nio.file.Files.createDirectories(target.toAbsolutePath().getParent());
      java.nio.file.Files.deleteIfExists(target);
      client.getObject(b -> b.bucket(uri.bucket()).key(uri.key()), target);
      return null;
    });
  }

  public Future<Void> delete(String bucketName, List<String> keys) {
    if (keys.isEmpty()) {
      return Future.succeededFuture();
    }
    return io.submit(() -> {
      List<ObjectIdentifier> ids = keys.stream().map(k -> ObjectIdentifier.builder().key(k).build()).toList();
      try {
        client.deleteObjects(b -> b.bucket(bucketName).delete(Delete.builder().objects(ids).build()));
      } catch (S3Exception e) {
        // DeleteObjects needs a request checksum that some S3-compatible servers (s3proxy) refuse: one by one then
        for (String key : keys) {
          client.deleteObject(b -> b.bucket(bucketName).key(key));
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
