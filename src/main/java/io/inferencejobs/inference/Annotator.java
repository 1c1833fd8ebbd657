package io.inferencejobs.inference;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;

/**
 * Draws a job's predictions on its input image: each box in its class's colour, with "class score" on a filled tag.
 * The image is decoded exactly as the engine decoded it (same readers, same EXIF orientation, same pixel limit), so
 * the boxes, which are in upright original-image pixels, fall where the model saw the objects. Output is JPEG.
 * CPU-bound: call it on a worker pool.
 */
public final class Annotator {
  /** Distinct colours, picked by class id. */
  private static final int[] PALETTE = {
      0xFF3838, 0x2C99A8, 0xFF9D97, 0xFF701F, 0xFFB21D, 0xCFD231, 0x48F90A, 0x92CC17, 0x3DDB86, 0x1A9334,
      0x00D4BB, 0xFF9D97, 0x00C2FF, 0x344593, 0x6473FF, 0x0018EC, 0x8438FF, 0x520085, 0xCB38FF, 0xFF95C8};

  private Annotator() {
  }

  /** The JPEG of {@code encoded} with {@code predictions} drawn on it. */
  public static byte[] annotate(byte[] encoded, List<Detection> predictions, long maxPixels) throws ImageException {
    BufferedImage image = toImage(ImageDecoder.decode(encoded, maxPixels));
    draw(image, predictions);
    return jpeg(image, 0.9f);
  }

  static void draw(BufferedImage image, List<Detection> predictions) {
    int w = image.getWidth();
    int h = image.getHeight();
    int longSide = Math.max(w, h);
    float stroke = Math.max(2f, longSide / 400f);
    Graphics2D g = image.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setStroke(new BasicStroke(stroke));
      Font font = new Font(Font.SANS_SERIF, Font.BOLD, Math.max(12, Math.round(longSide / 55f)));
      // the most confident last, so that its tag is on top where tags overlap
      List<Detection> order = new java.util.ArrayList<>(predictions);
      order.sort(java.util.Comparator.comparingDouble(Detection::confidence));
      for (Detection p : order) {
        BBox b = p.bbox();
        Color colour = new Color(PALETTE[Math.floorMod(p.classId(), PALETTE.length)]);
        int x1 = Math.round(b.x1());
        int y1 = Math.round(b.y1());
        int x2 = Math.round(b.x2());
        int y2 = Math.round(b.y2());
        if (p.mask() != null && p.mask().width() == w && p.mask().height() == h) {
          fill(image, Rle.decode(p.mask().counts(), h, w), colour);
        }
        g.setColor(colour);
        if (p.obb() != null) {
          float[] k = p.obb().corners();
          java.awt.geom.Path2D.Float outline = new java.awt.geom.Path2D.Float();
          outline.moveTo(k[0], k[1]);
          for (int c = 2; c < 8; c += 2) {
            outline.lineTo(k[c], k[c + 1]);
          }
          outline.closePath();
          g.draw(outline);
        } else {
          g.drawRect(x1, y1, Math.max(1, x2 - x1), Math.max(1, y2 - y1));
        }
        if (p.keypoints() != null) {
          skeleton(g, p.keypoints(), colour, stroke);
        }
        label(g, font, colour, labelOf(p), x1, y1, w, stroke);
      }
    } finally {
      g.dispose();
    }
  }

  /** Keypoints with a score under this are not drawn (the model is not sure they are there). */
  static final float KEYPOINT_MIN_SCORE = 0.3f;

  /** The mask's pixels tinted with the class colour at 40%. */
  private static void fill(BufferedImage image, boolean[] mask, Color colour) {
    byte[] px = ((DataBufferByte) image.getRaster().getDataBuffer()).getData();
    int r = colour.getRed();
    int gr = colour.getGreen();
    int b = colour.getBlue();
    for (int i = 0; i < mask.length; i++) {
      if (mask[i]) {
        int o = i * 3; // TYPE_3BYTE_BGR
        px[o] = (byte) (((px[o] & 0xFF) * 6 + b * 4) / 10);
        px[o + 1] = (byte) (((px[o + 1] & 0xFF) * 6 + gr * 4) / 10);
        px[o + 2] = (byte) (((px[o + 2] & 0xFF) * 6 + r * 4) / 10);
      }
    }
  }

  /** Limbs (COCO's, for 17 keypoints) between sure keypoints, then the keypoints as dots. */
  private static void skeleton(Graphics2D g, List<Keypoint> kps, Color colour, float stroke) {
    if (kps.size() == Keypoints.COCO.size()) {
      g.setColor(colour);
      for (int[] limb : Keypoints.COCO_SKELETON) {
        Keypoint a = kps.get(limb[0]);
        Keypoint b = kps.get(limb[1]);
        if (a.score() >= KEYPOINT_MIN_SCORE && b.score() >= KEYPOINT_MIN_SCORE) {
          g.drawLine(Math.round(a.x()), Math.round(a.y()), Math.round(b.x()), Math.round(b.y()));
        }
      }
    }
    int r = Math.max(3, Math.round(stroke * 1.5f));
    for (Keypoint k : kps) {
      if (k.score() >= KEYPOINT_MIN_SCORE) {
        g.setColor(Color.WHITE);
        g.fillOval(Math.round(k.x()) - r, Math.round(k.y()) - r, 2 * r, 2 * r);
        g.setColor(colour);
        g.drawOval(Math.round(k.x()) - r, Math.round(k.y()) - r, 2 * r, 2 * r);
      }
    }
  }

  static String labelOf(Detection p) {
    String name = p.className() == null ? "class " + p.classId() : p.className();
    return name + " " + String.format(Locale.ROOT, "%.2f", p.confidence());
  }

  /** The tag sits above the box, or inside it at the top edge of the image; text stays readable on any colour. */
  private static void label(Graphics2D g, Font font, Color colour, String text, int x, int y, int imageWidth,
                            float stroke) {
    try {
      g.setFont(font);
      FontMetrics m = g.getFontMetrics();
      int pad = Math.max(2, Math.round(stroke));
      int tw = m.stringWidth(text) + 2 * pad;
      int th = m.getAscent() + m.getDescent() + pad;
      int tx = Math.max(0, Math.min(x, imageWidth - tw));
      int ty = y - th >= 0 ? y - th : y;
      g.setColor(colour);
      g.fillRect(tx, ty, tw, th);
      double luma = 0.299 * colour.getRed() + 0.587 * colour.getGreen() + 0.114 * colour.getBlue();
      g.setColor(luma > 150 ? Color.BLACK : Color.WHITE);
      g.drawString(text, tx + pad, ty + m.getAscent());
    } catch (RuntimeException | Error e) {
      // no font on this machine (a JRE without fontconfig): the boxes alone are still right
    }
  }

  /** Upright 8-bit RGB pixels as an image to draw on; JPEG YCbCr is converted as the engine converts it. */
  static BufferedImage toImage(Pixels p) {
    BufferedImage out = new BufferedImage(p.width(), p.height(), BufferedImage.TYPE_3BYTE_BGR);
    byte[] dst = ((DataBufferByte) out.getRaster().getDataBuffer()).getData();
    byte[] src = p.data();
    int o = 0;
    for (int y = 0; y < p.height(); y++) {
      int row = p.offset() + y * p.rowStride();
      for (int x = 0; x < p.width(); x++) {
        int s = row + x * p.pixelStride();
        int c0 = src[s + p.red()] & 0xFF;
        int c1 = src[s + p.green()] & 0xFF;
        int c2 = src[s + p.blue()] & 0xFF;
        int r;
        int gr;
        int b;
        if (p.ycc()) {
          float cb = c1 - 128f;
          float cr = c2 - 128f;
          r = clamp(c0 + 1.402f * cr);
          gr = clamp(c0 - 0.344136f * cb - 0.714136f * cr);
          b = clamp(c0 + 1.772f * cb);
        } else {
          r = c0;
          gr = c1;
          b = c2;
        }
        dst[o++] = (byte) b;
        dst[o++] = (byte) gr;
        dst[o++] = (byte) r;
      }
    }
    return out;
  }

  private static int clamp(float v) {
    return Math.max(0, Math.min(255, Math.round(v)));
  }

  static byte[] jpeg(BufferedImage image, float quality) {
    ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(image.getWidth() * image.getHeight() / 4);
    try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
      writer.setOutput(out);
      ImageWriteParam param = writer.getDefaultWriteParam();
      param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
      param.setCompressionQuality(quality);
      writer.write(null, new IIOImage(image, null, null), param);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      writer.dispose();
    }
    return bytes.toByteArray();
  }
}
