package io.inferencejobs.it;

import io.inferencejobs.storage.S3Uri;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** More than 1000 images in one job (the old platform stopped at 1000): every image is processed exactly once. */
class LargeJobIT extends SharedServiceIT {
  static final int IMAGES = 1010;

  static byte[] png(int i) throws Exception {
    BufferedImage img = new BufferedImage(48, 32, BufferedImage.TYPE_3BYTE_BGR);
    Graphics2D g = img.createGraphics();
    g.setColor(new Color(i * 37 % 256, i * 91 % 256, i * 13 % 256));
    g.fillRect(0, 0, 48, 32);
    g.dispose();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, "png", out);
    return out.toByteArray();
  }

  @Test
  void aJobOfMoreThanAThousandImagesCompletesWithEveryImageOnce() throws Exception {
    String prefix = "large/" + UUID.randomUUID() + "/";
    List<Future<Void>> puts = new ArrayList<>();
    for (int i = 0; i < IMAGES; i++) {
      puts.add(node.storage().putBytes(new S3Uri(node.storage().bucket(), prefix + String.format("img-%05d.png", i)),
          png(i), "image/png"));
      if (puts.size() == 200) {
        Api.await(Future.all(puts));
        puts.clear();
      }
    }
    Api.await(Future.all(puts));

    long id = api.createJob(Api.jobRequest(new JsonObject().put("image_paths_s3",
        "s3://" + node.storage().bucket() + "/" + prefix)));
    assertThat(api.get(Api.INF + "/jobs/" + id).bodyAsJsonObject().getInteger("total_images")).isEqualTo(IMAGES);
    JsonObject done = api.awaitTerminal(id);
    assertThat(done.getString("status")).isEqualTo("completed");
    assertThat(done.getInteger("processed_images")).isEqualTo(IMAGES);
    assertThat(done.getInteger("failed_images")).isZero();

    List<JsonObject> results = api.allResults(id);
    assertThat(results).hasSize(IMAGES);
    Set<Integer> seen = new HashSet<>();
    for (int i = 0; i < results.size(); i++) {
      JsonObject r = results.get(i);
      assertThat(r.getInteger("image_index")).isEqualTo(i);
      assertThat(r.getString("image_name")).isEqualTo(String.format("img-%05d.png", i));
      assertThat(r.getString("error")).isNull();
      assertThat(r.getInteger("width")).isEqualTo(48);
      seen.add(r.getInteger("image_index"));
    }
    assertThat(seen).hasSize(IMAGES);
  }
}
