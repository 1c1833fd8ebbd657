package io.inferencejobs.config;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigLoaderTest {

  @Test
  void defaultsDescribeTheEmbeddedSingleNode() {
    AppConfig c = ConfigLoader.load(Map.of());
    assertThat(c.postgres().embedded()).isTrue();
    assertThat(c.s3().embedded()).isTrue();
    assertThat(c.hasRole(AppConfig.Role.API)).isTrue();
    assertThat(c.hasRole(AppConfig.Role.WORKER)).isTrue();
    assertThat(c.http().port()).isEqualTo(8080);
    assertThat(c.clustered()).isFalse();
  }

  @Test
  void environmentWins() {
    AppConfig c = ConfigLoader.load(Map.of("HTTP_PORT", "9191", "DATA_DIR", "/tmp/x", "PG_HOST", "db.local",
        "S3_ENDPOINT", "http://s3.local:9000", "ROLES", "worker", "WORKER_DEVICES", "cuda:0,cuda:1"));
    assertThat(c.http().port()).isEqualTo(9191);
    assertThat(c.dataDir().toString()).isEqualTo("/tmp/x");
    assertThat(c.postgres().embedded()).isFalse();
    assertThat(c.postgres().host()).isEqualTo("db.local");
    assertThat(c.s3().embedded()).isFalse();
    assertThat(c.roles()).containsExactly(AppConfig.Role.WORKER);
    assertThat(c.worker().devices()).containsExactly("cuda:0", "cuda:1");
    assertThat(ConfigLoader.load(Map.of()).engine().jpegDecoder()).isEqualTo("auto");
    assertThat(ConfigLoader.load(Map.of("JPEG_DECODER", "ImageIO")).engine().jpegDecoder()).isEqualTo("imageio");
  }

  @Test
  void everyProblemIsNamedAtOnce() {
    assertThatThrownBy(() -> ConfigLoader.load(Map.of("HTTP_PORT", "eighty", "ROLES", "api,chef",
        "WORKER_DEVICES", "tpu", "S3_ENDPOINT", "ftp://x", "MAX_FAILED_RATIO", "2", "WORKER_CHUNK_SIZE", "0", "JPEG_DECODER", "libjpeg")))
        .isInstanceOf(ConfigException.class)
        .satisfies(e -> {
          var problems = ((ConfigException) e).problems();
          assertThat(problems).hasSize(7);
          assertThat(e.getMessage()).contains("HTTP_PORT").contains("chef").contains("WORKER_DEVICES")
              .contains("S3_ENDPOINT").contains("MAX_FAILED_RATIO").contains("WORKER_CHUNK_SIZE")
              .contains("JPEG_DECODER").contains("must be auto, turbojpeg or imageio");
        });
  }
}
